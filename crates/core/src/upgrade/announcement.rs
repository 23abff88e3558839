//! The maintenance announcement shown while the console is in maintenance mode (seed 000,
//! "Announcement configuration").

use serde::{Deserialize, Serialize};

use super::time::{Date, time_of_day};

/// A validated announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announcement {
    /// When maintenance mode is expected to end, `YYYY-MM-DD hh:mm`.
    pub estimated_completion: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
}

/// What is wrong with an announcement field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnouncementError {
    #[error(
        "estimated completion `{0}` is not a time in the form YYYY-MM-DD hh:mm (e.g. 2026-11-23 22:30)"
    )]
    EstimatedCompletion(String),
    #[error("contact email `{0}` is not an address of the form name@domain.tld")]
    ContactEmail(String),
    #[error(
        "contact phone `{0}` is not a phone number: use 5 to 20 digits, optionally with +, spaces, - and ()"
    )]
    ContactPhone(String),
}

impl Announcement {
    /// Validates each given field; empty strings count as absent.
    pub fn new(
        estimated_completion: Option<&str>,
        contact_email: Option<&str>,
        contact_phone: Option<&str>,
    ) -> Result<Self, AnnouncementError> {
        let estimated_completion = present(estimated_completion)
            .map(|v| {
                valid_completion(v)
                    .then(|| v.to_owned())
                    .ok_or_else(|| AnnouncementError::EstimatedCompletion(v.to_owned()))
            })
            .transpose()?;
        let contact_email = present(contact_email)
            .map(|v| {
                valid_email(v)
                    .then(|| v.to_owned())
                    .ok_or_else(|| AnnouncementError::ContactEmail(v.to_owned()))
            })
            .transpose()?;
        let contact_phone = present(contact_phone)
            .map(|v| {
                valid_phone(v)
                    .then(|| v.to_owned())
                    .ok_or_else(|| AnnouncementError::ContactPhone(v.to_owned()))
            })
            .transpose()?;
        Ok(Self {
            estimated_completion,
            contact_email,
            contact_phone,
        })
    }
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn valid_completion(v: &str) -> bool {
    let Some((date, time)) = v.split_once(' ') else {
        return false;
    };
    date.parse::<Date>().is_ok() && time.len() == 5 && time_of_day(time).is_some()
}

fn valid_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && !v.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

fn valid_phone(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v.chars().enumerate().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0)
    });
    allowed && (5..=20).contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_complete_announcement() {
        let a = Announcement::new(
            Some("2026-11-23 22:30"),
            Some("ops@example.com"),
            Some("+86 (571) 8502-2088"),
        )
        .unwrap();
        assert_eq!(a.estimated_completion.as_deref(), Some("2026-11-23 22:30"));
        assert_eq!(a.contact_email.as_deref(), Some("ops@example.com"));
    }

    #[test]
    fn empty_fields_are_absent() {
        let a = Announcement::new(Some(" "), None, Some("")).unwrap();
        assert_eq!(a, Announcement::new(None, None, None).unwrap());
        assert!(a.estimated_completion.is_none() && a.contact_phone.is_none());
    }

    #[test]
    fn refuses_bad_times_naming_the_format() {
        for bad in [
            "2026-11-23",
            "2026-11-23T22:30",
            "2026-13-01 10:00",
            "2026-11-23 25:00",
            "2026-11-23 2:30",
        ] {
            let err = Announcement::new(Some(bad), None, None).unwrap_err();
            assert_eq!(err, AnnouncementError::EstimatedCompletion(bad.into()));
            assert!(err.to_string().contains("YYYY-MM-DD hh:mm"), "{err}");
        }
    }

    #[test]
    fn refuses_bad_emails() {
        for bad in [
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "o ps@example.com",
            "a@b@c.com",
            "ops@exa_mple.com",
        ] {
            assert_eq!(
                Announcement::new(None, Some(bad), None).unwrap_err(),
                AnnouncementError::ContactEmail(bad.into())
            );
        }
    }

    #[test]
    fn refuses_bad_phones() {
        for bad in [
            "12",
            "phone",
            "12345x",
            "1+2345678",
            "123456789012345678901",
        ] {
            assert_eq!(
                Announcement::new(None, None, Some(bad)).unwrap_err(),
                AnnouncementError::ContactPhone(bad.into())
            );
        }
        assert!(Announcement::new(None, None, Some("0571-88157858")).is_ok());
    }
}

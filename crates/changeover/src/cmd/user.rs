//! `changeover user`: users, roles, passwords and API tokens of the changeover server.
//! Passwords come from a prompt (no echo) or `--password-stdin`, never from an argument.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use changeover_server::auth::{self, Actor, Role, Secret};
use clap::{Args as ClapArgs, Subcommand};

use crate::context::Context;

#[derive(Debug, ClapArgs)]
#[command(
    about = "Manage users, roles, passwords and API tokens",
    long_about = "Manage users, roles, passwords and API tokens.\n\nRoles: viewer (read), operator (run upgrades), admin (users, versions, force-terminate, rollback). \
                  There is no default user: add the first admin with `changeover user add NAME --role admin`.",
    after_help = "Examples:\n  changeover user add ada --role admin\n  printf '%s\\n' \"$PW\" | changeover user add ci --role operator --password-stdin\n  changeover user token ci"
)]
pub struct Args {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user with a role
    #[command(
        after_help = "Examples:\n  changeover user add alice --role admin\n  printf '%s\\n' \"$PASSWORD\" | changeover user add ci-bot --role operator --password-stdin"
    )]
    Add {
        name: String,
        /// viewer, operator or admin
        #[arg(long)]
        role: String,
        /// Read the password from the first line of stdin instead of a prompt
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's password
    #[command(after_help = "Examples:\n  changeover user passwd alice")]
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue an API token (shown once; only its SHA-256 is stored)
    #[command(after_help = "Examples:\n  changeover user token ci-bot --label nightly-pipeline")]
    Token {
        name: String,
        /// A label to recognise the token by
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// List users and roles
    #[command(after_help = "Examples:\n  changeover user list\n  changeover --json user list")]
    List,
}

/// The actor recorded in the audit log for local commands: the OS user.
fn local_actor() -> String {
    std::env::var("USER").unwrap_or_else(|_| "local".to_owned())
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let who = local_actor();
    let actor = Actor {
        name: &who,
        peer: "cli",
    };
    match args.command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            let role: Role = role.parse().map_err(|e: String| {
                crate::failure::bad_input(format!("--role: {e}"), "use viewer, operator or admin")
            })?;
            auth::check_name(&name)
                .map_err(|e| crate::failure::bad_input(e.to_string(), "pick another name"))?;
            let password = read_password(password_stdin, true)?;
            let store = ctx.store().await?;
            auth::add_user(&store, &actor, &name, role, &password)
                .await
                .map_err(refused)?;
            eprintln!("user {name} added with role {role}");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin, true)?;
            let store = ctx.store().await?;
            auth::set_password(&store, &actor, &name, &password)
                .await
                .map_err(refused)?;
            eprintln!("password of {name} changed");
        }
        UserCommand::Token { name, label } => {
            let store = ctx.store().await?;
            let token = auth::issue_token(&store, &actor, &name, &label)
                .await
                .map_err(refused)?;
            if ctx.json {
                return crate::output::json(
                    &serde_json::json!({"name": name, "token": token.expose()}),
                );
            }
            eprintln!("API token for {name} (shown once; store it now):");
            println!("{}", token.expose());
        }
        UserCommand::List => {
            let store = ctx.store().await?;
            let users = store.users().list().await?;
            if ctx.json {
                let rows: Vec<_> = users.iter().map(|u| serde_json::json!({"name": u.name, "role": u.role, "created_at": u.created_at})).collect();
                return crate::output::json(&rows);
            }
            let rows = users.iter().map(|u| {
                vec![
                    u.name.clone(),
                    u.role.clone(),
                    crate::output::when(u.created_at),
                ]
            });
            println!(
                "{}",
                crate::output::table(&["name", "role", "created"], rows)
            );
        }
    }
    Ok(())
}

fn refused(e: auth::AuthError) -> anyhow::Error {
    match e {
        auth::AuthError::Store(_) | auth::AuthError::Hash(_) => {
            crate::failure::failed(e.to_string(), "check the store")
        }
        other => crate::failure::bad_input(other.to_string(), "see `changeover user --help`"),
    }
}

/// Reads a password: the first line of stdin, or a no-echo prompt (asked twice) on a terminal.
fn read_password(from_stdin: bool, confirm: bool) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        if !from_stdin {
            return Err(crate::failure::bad_input(
                "stdin is not a terminal",
                "pass --password-stdin to read the password from stdin",
            ));
        }
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(Secret::new(line.trim_end_matches(['\r', '\n'])));
    }
    let first = prompt("password: ")?;
    if confirm {
        let second = prompt("again: ")?;
        if first != second {
            return Err(crate::failure::bad_input(
                "the two passwords differ",
                "type the same password twice",
            ));
        }
    }
    Ok(first)
}

fn prompt(label: &str) -> anyhow::Result<Secret> {
    eprint!("{label}");
    std::io::stderr().flush()?;
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
    };
    let _ = stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    let _ = stty("echo");
    eprintln!();
    read?;
    Ok(Secret::new(line.trim_end_matches(['\r', '\n'])))
}

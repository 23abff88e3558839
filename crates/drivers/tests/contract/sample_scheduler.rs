//! The contract client against the sample platform's `sample-scheduler`.

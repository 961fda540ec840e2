//! Running the server: its command line, faults, telemetry and audit log, the mail outbox,
//! several processes on one store (`nodes`), and the README's remaining promises.

mod admin;
mod audit;
mod cli;
mod faults;
mod mail_outbox;
mod nodes;
mod readme_claims;
mod telemetry;

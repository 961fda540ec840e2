//! Logging in and keeping an account's way in safe: brute force, stolen refresh tokens,
//! password reset and change, and the step-up a session needs to change how it signs in.

mod brute_force;
pub mod passwords;
pub mod stepup;

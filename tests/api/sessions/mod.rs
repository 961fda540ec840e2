//! Sessions from sign-up to logout: verification, login, refresh, the guard, devices.

mod auth;
mod ending;
mod tokens;

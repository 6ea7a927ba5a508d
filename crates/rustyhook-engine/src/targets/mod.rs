//! Where deliveries go. Each target turns one request into an [`http::SendResult`]; failures of
//! the receiver are data (an outcome code), not errors.

pub mod child_env;
pub mod command;
pub mod groups;
pub mod http;
pub mod resolver;

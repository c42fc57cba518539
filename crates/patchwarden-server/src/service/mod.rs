//! Services: the rules between the HTTP edge and the store. Handlers and CLI commands
//! call these; these call the store.

pub mod agents;
pub mod audit;
pub mod feed_sync;
pub mod login;
pub mod matching;
mod memo;
mod rematch;
pub mod scans;
pub mod users;

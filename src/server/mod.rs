//! The template server.

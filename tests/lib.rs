//! Helpers for the end-to-end tests (see the files beside this one).

//! Integration, conformance and real-peer tests for lexigram-auth live in
//! `integration/`; this library is empty.

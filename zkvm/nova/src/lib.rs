//! Nova folding engine (in progress).

//! Runs a [`Plan`]: steps in order per host, hosts in parallel (bounded). STUB (engine helper).

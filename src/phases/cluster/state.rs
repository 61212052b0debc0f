//! Cluster state model. (filled below)

//! Adapters of the ports to the local machine: files for objects, table and metrics, and an in-process scheduler.

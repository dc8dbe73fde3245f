//! Disaster recovery between two sites (docs/sites.md): the sites configuration
//! ([`spec`], read by [`crate::config::sites`]), booth's configuration ([`booth`]), this
//! site's resources and tickets ([`model`]), and the operations of `ganesha-ha site`
//! ([`ops`], `setup` in [`setup`]) over a [`runner::SiteRunner`].

pub mod booth;
pub mod model;
pub mod ops;
pub mod runner;
pub mod setup;
pub mod spec;

//! Families of series with fixed label names, and the registry `/metrics` encodes.
//!
//! Self-metrics (`mcpcol_*`) are [`Family`]s: a few label sets each (a reason, an
//! exporter, a listener), kept in label order, so every scrape lists them in the same
//! order. The RED metrics, written by one task for every operation, have a store of their
//! own (`series.rs`) and register as a [`Collect`] too.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use super::exposition::encoder::{Descriptor, Encoder, LabelSet};
use super::exposition::Scrape;
use super::instruments::Encode;

/// Anything `/metrics` can encode: one or more families.
pub trait Collect: Send + Sync + fmt::Debug {
    /// Writes the families, each with its descriptor (also when it has no series, so
    /// `# TYPE` lists every name a dashboard may use).
    fn collect(&self, encoder: &mut Encoder<'_>, scrape: &Scrape);
}

/// Every collector, encoded in the order registered.
#[derive(Debug, Default)]
pub struct Registry {
    collectors: Vec<Arc<dyn Collect>>,
}

impl Registry {
    /// Adds a collector after the ones registered so far.
    pub fn register(&mut self, collector: Arc<dyn Collect>) {
        self.collectors.push(collector);
    }

    /// Encodes every collector.
    pub fn collect(&self, encoder: &mut Encoder<'_>, scrape: &Scrape) {
        for collector in &self.collectors {
            collector.collect(encoder, scrape);
        }
    }
}

/// One family: its descriptor and its series by label set.
pub struct Family<L, M> {
    desc: Descriptor,
    series: RwLock<BTreeMap<L, Arc<M>>>,
    make: fn() -> M,
}

impl<L, M> fmt::Debug for Family<L, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.desc.name)
            .finish()
    }
}

impl<L: Ord + Clone, M: Default> Family<L, M> {
    /// An empty family of `M::default()` series.
    pub fn new(desc: Descriptor) -> Self {
        Family::with_constructor(desc, M::default)
    }
}

impl<L: Ord + Clone, M> Family<L, M> {
    /// An empty family whose series are made by `make`.
    pub fn with_constructor(desc: Descriptor, make: fn() -> M) -> Self {
        Family {
            desc,
            series: RwLock::new(BTreeMap::new()),
            make,
        }
    }

    /// The series of `labels`, made if new.
    pub fn get_or_create(&self, labels: &L) -> Arc<M> {
        // ok: a poisoned lock still holds a valid map.
        if let Some(metric) = self
            .series
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(labels)
        {
            return metric.clone();
        }
        self.series
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(labels.clone())
            .or_insert_with(|| Arc::new((self.make)()))
            .clone()
    }

    /// Every series now, in label order.
    pub fn snapshot(&self) -> Vec<(L, Arc<M>)> {
        self.series
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(l, m)| (l.clone(), m.clone()))
            .collect()
    }

    /// Series in the family.
    pub fn len(&self) -> usize {
        self.series.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<L, M> Collect for Family<L, M>
where
    L: LabelSet + Ord + Send + Sync,
    M: Encode + Send + Sync,
{
    fn collect(&self, encoder: &mut Encoder<'_>, scrape: &Scrape) {
        encoder.family(&self.desc);
        let series = self.series.read().unwrap_or_else(|p| p.into_inner());
        for (labels, metric) in series.iter() {
            metric.encode(encoder, self.desc.name, labels, scrape);
        }
    }
}

/// A family of one series without labels.
pub struct Single<M> {
    desc: Descriptor,
    metric: Arc<M>,
}

impl<M> fmt::Debug for Single<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Single")
            .field("name", &self.desc.name)
            .finish()
    }
}

impl<M: Default> Single<M> {
    /// The family and its one metric.
    pub fn new(desc: Descriptor) -> Self {
        Single {
            desc,
            metric: Arc::new(M::default()),
        }
    }
}

impl<M> std::ops::Deref for Single<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.metric
    }
}

impl<M: Encode + Send + Sync> Collect for Single<M> {
    fn collect(&self, encoder: &mut Encoder<'_>, scrape: &Scrape) {
        encoder.family(&self.desc);
        self.metric.encode(encoder, self.desc.name, &(), scrape);
    }
}

/// Label sets of one or two static names, for self-metrics.
macro_rules! labels {
    ($(#[$doc:meta])* $vis:vis $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis struct $name { $($vis $field: $ty),* }

        impl $crate::metrics::exposition::encoder::LabelSet for $name {
            fn for_each(&self, f: &mut dyn FnMut(&str, &str)) {
                $(f(stringify!($field), AsRef::<str>::as_ref(&self.$field));)*
            }
        }
    };
}
pub(crate) use labels;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::{render, Format};
    use crate::metrics::instruments::Counter;

    labels!(Reason { reason: &'static str });

    #[test]
    fn series_are_listed_in_label_order_whatever_the_creation_order() {
        let family = Arc::new(Family::<Reason, Counter>::new(Descriptor::counter(
            "x", "X.",
        )));
        for reason in ["b", "c", "a"] {
            family.get_or_create(&Reason { reason }).inc();
        }
        let mut registry = Registry::default();
        registry.register(family);
        assert_eq!(
            render(&registry, &Scrape::reading(Format::Prometheus)),
            "# HELP x_total X.\n# TYPE x_total counter\nx_total{reason=\"a\"} 1\n\
             x_total{reason=\"b\"} 1\nx_total{reason=\"c\"} 1\n"
        );
    }
}

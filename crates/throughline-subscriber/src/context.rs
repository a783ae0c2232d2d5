//! Context storage: the fields of every enclosing span, visible from any
//! event or span inside them.

use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use tracing_core::Subscriber;
use tracing_core::dispatcher::{Dispatch, WeakDispatch};
use tracing_core::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::field_value::{Collect, FieldValue};

/// Keeps the fields of every span so that its descendants inherit them.
///
/// A `request_id` recorded on the server span shows on every log line of the
/// request, however deep the event, on whatever task or thread it runs, and
/// even when it was recorded late (`span.record(..)`) after child spans were
/// created.
///
/// ```
/// use throughline_subscriber::{ContextLayer, SpanFields};
/// use tracing_subscriber::prelude::*;
///
/// let subscriber = tracing_subscriber::registry().with(ContextLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let request = tracing::info_span!("request", request_id = tracing::field::Empty);
///     let _request = request.enter();
///     let _query = tracing::info_span!("query", table = "orders").entered();
///     request.record("request_id", "r-42"); // after the child span was created
///
///     let fields = SpanFields::current().expect("a ContextLayer is installed");
///     assert_eq!(fields.get("request_id").unwrap().as_str(), Some("r-42"));
///     assert_eq!(fields.get("table").unwrap().as_str(), Some("orders"));
/// });
/// ```
///
/// Nothing is copied per span: each span that declares fields gets one node
/// holding its own fields and a pointer to its parent's node, a persistent
/// list shared by all descendants. A span without fields shares its parent's
/// node. Reading walks the chain, nearest span first; a field recorded on a
/// nearer span hides one of the same name further up.
///
/// The layer is not `Clone`: it belongs to the one subscriber it was
/// registered with.
#[derive(Debug, Default)]
pub struct ContextLayer {
    /// The subscriber this layer is part of, for lookups made while an event
    /// is being dispatched (when `tracing::dispatcher::get_default` gives
    /// none).
    dispatch: OnceLock<WeakDispatch>,
}

impl ContextLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

/// One span's own fields, and the chain above it.
struct FieldNode {
    fields: RwLock<Vec<(&'static str, FieldValue)>>,
    parent: Option<Arc<FieldNode>>,
}

/// The span extension this layer keeps.
struct Stored {
    /// The nearest node at or above this span: its own, or an ancestor's when
    /// the span declares no field.
    node: Option<Arc<FieldNode>>,
    opened: Instant,
    dispatch: Option<WeakDispatch>,
}

impl<S> Layer<S> for ContextLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span
            .scope()
            .skip(1)
            .find_map(|ancestor| ancestor.extensions().get::<Stored>().map(|stored| stored.node.clone()));
        let parent = parent.flatten();
        let node = if attrs.fields().is_empty() {
            parent
        } else {
            let mut fields = Vec::with_capacity(attrs.fields().len());
            attrs.record(&mut Collect(&mut fields));
            Some(Arc::new(FieldNode { fields: RwLock::new(fields), parent }))
        };
        let dispatch = self.dispatch.get().cloned();
        span.extensions_mut().insert(Stored { node, opened: Instant::now(), dispatch });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        // Formatting `Debug` values may log; do it before taking any lock.
        let mut recorded = Vec::with_capacity(values.len());
        values.record(&mut Collect(&mut recorded));
        let extensions = span.extensions();
        let Some(node) = extensions.get::<Stored>().and_then(|s| s.node.as_ref()) else { return };
        let mut fields = node.fields.write().unwrap_or_else(PoisonError::into_inner);
        for (name, value) in recorded {
            match fields.iter_mut().find(|(known, _)| *known == name) {
                Some((_, old)) => *old = value,
                None => fields.push((name, value)),
            }
        }
    }
}

/// The fields a span carries and inherits, as kept by [`ContextLayer`].
///
/// A cheap handle (one reference count): it sees values recorded after it was
/// taken.
#[derive(Clone, Default)]
pub struct SpanFields {
    node: Option<Arc<FieldNode>>,
}

impl SpanFields {
    /// The fields of `span` and its ancestors; `None` when no [`ContextLayer`]
    /// saw the span.
    pub fn of<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>) -> Option<Self> {
        span.extensions().get::<Stored>().map(|stored| Self { node: stored.node.clone() })
    }

    /// The fields of the current span and its ancestors, read through the
    /// current dispatcher; `None` outside any span or without a
    /// [`ContextLayer`] on a registry.
    pub fn current() -> Option<Self> {
        tracing::dispatcher::get_default(|dispatch| {
            let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
            let id = dispatch.current_span().id()?.clone();
            Self::of(&registry.span(&id)?)
        })
    }

    /// The value of the field `name` on the nearest span that has one.
    pub fn get(&self, name: &str) -> Option<FieldValue> {
        let mut found = None;
        self.for_each(|field, value| {
            if found.is_none() && field == name {
                found = Some(value.clone());
            }
        });
        found
    }

    /// Whether no span in the chain has a field.
    pub fn is_empty(&self) -> bool {
        let mut empty = true;
        self.for_each(|_, _| empty = false);
        empty
    }

    /// Calls `f` with each field, nearest span first, each name once (a
    /// nearer span's value hides a farther one's).
    pub fn for_each(&self, mut f: impl FnMut(&'static str, &FieldValue)) {
        let Some(nearest) = self.node.as_deref() else { return };
        let fields = nearest.fields.read().unwrap_or_else(PoisonError::into_inner);
        fields.iter().for_each(|(name, value)| f(name, value));
        let Some(mut node) = nearest.parent.as_deref() else { return };
        // Names written so far, which hide farther values of the same name.
        let mut shadowing = Names::default();
        fields.iter().for_each(|(name, _)| shadowing.push(name));
        drop(fields);
        loop {
            let fields = node.fields.read().unwrap_or_else(PoisonError::into_inner);
            let nearer = shadowing.len();
            for (name, value) in fields.iter() {
                if !shadowing.contains_among_first(nearer, name) {
                    f(name, value);
                }
            }
            let Some(parent) = node.parent.as_deref() else { return };
            fields.iter().for_each(|(name, _)| shadowing.push(name));
            node = parent;
        }
    }
}

impl fmt::Debug for SpanFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        self.for_each(|name, value| {
            map.entry(&name, value);
        });
        map.finish()
    }
}

/// When `span` was created, if a [`ContextLayer`] saw it.
pub(crate) fn opened<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>) -> Option<Instant> {
    span.extensions().get::<Stored>().map(|stored| stored.opened)
}

/// The subscriber `span` belongs to, if a [`ContextLayer`] saw it.
pub(crate) fn dispatch<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>) -> Option<Dispatch> {
    span.extensions().get::<Stored>()?.dispatch.as_ref()?.upgrade()
}

/// Names already written, on the stack for the usual handful.
#[derive(Default)]
struct Names {
    inline: [&'static str; 16],
    len: usize,
    spilled: Vec<&'static str>,
}

impl Names {
    fn len(&self) -> usize {
        self.len + self.spilled.len()
    }

    fn push(&mut self, name: &'static str) {
        if self.len < self.inline.len() {
            self.inline[self.len] = name;
            self.len += 1;
        } else {
            self.spilled.push(name);
        }
    }

    fn contains_among_first(&self, count: usize, name: &str) -> bool {
        let inline = count.min(self.len);
        self.inline[..inline].contains(&name) || self.spilled[..count - inline].contains(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_inline_capacity_are_still_found() {
        let names: Vec<&'static str> =
            (0..40).map(|i| &*Box::leak(format!("field{i}").into_boxed_str())).collect();
        let mut set = Names::default();
        names.iter().for_each(|name| set.push(name));
        assert!(set.contains_among_first(40, "field39"));
        assert!(set.contains_among_first(40, "field3"));
        assert!(!set.contains_among_first(20, "field30"));
        assert!(!set.contains_among_first(40, "field40"));
    }
}

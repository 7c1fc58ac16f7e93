//! The scope of a partial rendered by `render` or `function`: platformOS
//! gives such a partial only its arguments, never the caller's variables.
//! Its `assign`s stay inside it.
//!
//! One exception: `context` is the caller's (read and written through), so
//! a function can read `context.exports` and `{% export %}` from inside it
//! reaches the page, as in platformOS. An undefined variable reads as nil,
//! as on a page.

use std::cell::RefCell;
use std::collections::BTreeSet;

use liquid_core::model::{find, try_find, KString, KStringCow, KStringRef, ScalarCow, ValueCow};
use liquid_core::runtime::{PartialStore, Registers};
use liquid_core::{Error, Object, ObjectView, Result, Runtime, Value, ValueView};

/// The one variable an isolated partial shares with its caller.
const SHARED: &str = "context";

pub(crate) struct IsolatedFrame<P> {
    parent: P,
    data: RefCell<Object>,
    registers: Registers,
}

impl<P: Runtime> IsolatedFrame<P> {
    /// A scope holding only `arguments` (and the caller's `context`).
    pub(crate) fn new(parent: P, arguments: Object) -> Self {
        IsolatedFrame {
            parent,
            data: RefCell::new(arguments),
            registers: Registers::default(),
        }
    }

    fn is_shared(&self, key: &str) -> bool {
        key == SHARED && !self.data.borrow().contains_key(key)
    }
}

impl<P: Runtime> Runtime for IsolatedFrame<P> {
    fn partials(&self) -> &dyn PartialStore {
        self.parent.partials()
    }

    fn name(&self) -> Option<KStringRef<'_>> {
        self.parent.name()
    }

    fn roots(&self) -> BTreeSet<KStringCow<'_>> {
        let mut roots: BTreeSet<KStringCow<'_>> = self.data.borrow().keys().map(|k| k.clone().into()).collect();
        roots.insert(KStringCow::from_static(SHARED));
        roots
    }

    fn try_get(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        let key = path.first()?.to_kstr();
        if self.is_shared(key.as_str()) {
            return self.parent.try_get(path);
        }
        let data = self.data.borrow();
        try_find(data.as_value(), path).map(|v| v.into_owned().into())
    }

    fn get(&self, path: &[ScalarCow<'_>]) -> Result<ValueCow<'_>> {
        let key = path
            .first()
            .ok_or_else(|| Error::with_msg("Unknown variable").context("requested variable", "nil"))?
            .to_kstr();
        if self.is_shared(key.as_str()) {
            return self.parent.get(path);
        }
        let data = self.data.borrow();
        if !data.contains_key(key.as_str()) {
            // An undefined variable reads as nil, as on a page.
            if path.len() == 1 {
                return Ok(ValueCow::Owned(Value::Nil));
            }
            return Err(Error::with_msg("Unknown variable").context("requested variable", key.into_owned()));
        }
        find(data.as_value(), path).map(|v| v.into_owned().into())
    }

    fn set_global(&self, name: KString, val: Value) -> Option<Value> {
        if self.is_shared(name.as_str()) {
            return self.parent.set_global(name, val);
        }
        self.data.borrow_mut().insert(name, val)
    }

    fn set_index(&self, name: KString, val: Value) -> Option<Value> {
        self.parent.set_index(name, val)
    }

    fn get_index<'a>(&'a self, name: &str) -> Option<ValueCow<'a>> {
        self.parent.get_index(name)
    }

    fn registers(&self) -> &Registers {
        &self.registers
    }
}

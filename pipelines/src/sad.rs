//! The Security Association Database: every state, of any transform, found on the way in
//! by its key (protocol, destination, SPI or source) and on the way out by the bundles
//! that name it.

use std::collections::HashMap;

use crate::transform::{StateKey, Transform};

/// A state's place in the database; stable while the state lives.
pub type StateId = u32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SadError {
    #[error("a state of protocol {} to {} with SPI {:#x} exists", .0.proto, .0.dst, .0.spi)]
    Exists(StateKey),
    #[error("no state of protocol {} to {} with SPI {:#x}", .0.proto, .0.dst, .0.spi)]
    NotFound(StateKey),
}

/// The states.
#[derive(Debug, Default)]
pub struct Sad {
    states: Vec<Option<Box<dyn Transform>>>,
    by_key: HashMap<StateKey, StateId>,
    free: Vec<StateId>,
    /// Changes whenever a state comes or goes: bundles built before are to be resolved
    /// again.
    generation: u64,
}

impl Sad {
    pub fn new() -> Sad {
        Sad::default()
    }

    /// Adds a state.
    ///
    /// # Errors
    /// A state of the same key exists.
    pub fn add(&mut self, state: Box<dyn Transform>) -> Result<StateId, SadError> {
        let key = state.key();
        if self.by_key.contains_key(&key) {
            return Err(SadError::Exists(key));
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.states[id as usize] = Some(state);
                id
            }
            None => {
                self.states.push(Some(state));
                (self.states.len() - 1) as StateId
            }
        };
        self.by_key.insert(key, id);
        self.generation += 1;
        Ok(id)
    }

    /// Removes the state of `key`; returns it.
    ///
    /// # Errors
    /// There is none.
    pub fn remove(&mut self, key: &StateKey) -> Result<Box<dyn Transform>, SadError> {
        let id = self.by_key.remove(key).ok_or(SadError::NotFound(*key))?;
        self.free.push(id);
        self.generation += 1;
        Ok(self.states[id as usize]
            .take()
            .expect("indexed states exist"))
    }

    /// The state of `key`.
    pub fn find(&self, key: &StateKey) -> Option<StateId> {
        self.by_key.get(key).copied()
    }

    pub fn get(&self, id: StateId) -> Option<&dyn Transform> {
        self.states.get(id as usize)?.as_deref()
    }

    pub fn get_mut(&mut self, id: StateId) -> Option<&mut (dyn Transform + 'static)> {
        self.states.get_mut(id as usize)?.as_deref_mut()
    }

    /// Every state, with its id.
    pub fn iter(&self) -> impl Iterator<Item = (StateId, &dyn Transform)> {
        self.states
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i as StateId, s.as_deref()?)))
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
}

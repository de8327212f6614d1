//! [`AccountedVec`]: a `Vec` whose capacity is charged to a reservation.

use segrec_core::{MemoryError, MemoryReservation};

/// A vector whose allocation is charged to a [`MemoryReservation`] while it
/// lives, so the manager's peak covers it. Growth asks the budget first and
/// counts the old and new blocks both while the contents move.
#[derive(Debug)]
pub(crate) struct AccountedVec<E> {
    vec: Vec<E>,
    reservation: MemoryReservation,
    /// Bytes charged for `vec`'s allocation.
    charged: usize,
}

impl<E> AccountedVec<E> {
    pub(crate) fn new(reservation: MemoryReservation) -> Self {
        Self { vec: Vec::new(), reservation, charged: 0 }
    }

    /// Makes room for at least `additional` more elements, growing to at
    /// least `preferred` more when the budget allows.
    ///
    /// # Errors
    ///
    /// [`MemoryError::Exhausted`] when not even `additional` fit.
    pub(crate) fn reserve(&mut self, additional: usize, preferred: usize) -> Result<(), MemoryError> {
        if self.vec.capacity() - self.vec.len() >= additional {
            return Ok(());
        }
        let size = size_of::<E>().max(1);
        let mut last = None;
        for extra in [preferred.max(additional), additional] {
            let new_cap = self.vec.len() + extra;
            let new_bytes = new_cap * size;
            // Old and new blocks coexist while the contents move.
            match self.reservation.try_grow(new_bytes) {
                Ok(()) => {
                    self.vec.reserve_exact(new_cap - self.vec.len());
                    self.reservation.shrink(self.charged);
                    self.charged = new_bytes;
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| MemoryError::Exhausted {
            reservation: self.reservation.name().to_owned(),
            requested: additional * size,
            available: self.reservation.available(),
            budget: self.reservation.limit(),
        }))
    }

    pub(crate) fn vec(&self) -> &Vec<E> {
        &self.vec
    }

    pub(crate) fn vec_mut(&mut self) -> &mut Vec<E> {
        &mut self.vec
    }

    /// Appends within the reserved capacity (call [`reserve`](Self::reserve)
    /// first; a push past it would allocate unaccounted memory).
    #[inline]
    pub(crate) fn push_within(&mut self, e: E) {
        debug_assert!(self.vec.len() < self.vec.capacity());
        self.vec.push(e);
    }
}

impl<E> Drop for AccountedVec<E> {
    fn drop(&mut self) {
        self.reservation.shrink(self.charged);
    }
}

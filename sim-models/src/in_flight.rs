//! The in-flight budget of one simulation: the requests held by all its
//! resources together (queued or in a slot), under the cap that
//! [`crate::limits`] derives from the model ([`crate::model::Model::in_flight_cap`]).
//! Every resource of a simulation holds the same [`InFlight`].

use std::cell::Cell;
use std::rc::Rc;

/// The in-flight budget of one simulation, shared by its resources.
#[derive(Debug, Clone)]
pub struct InFlight {
    cap: u64,
    held: Cell<u64>,
    refused: Cell<u64>,
    peak: Cell<u64>,
}

impl InFlight {
    /// A budget of `cap` requests.
    pub fn new(cap: u64) -> Rc<InFlight> {
        Rc::new(InFlight {
            cap,
            held: Cell::new(0),
            refused: Cell::new(0),
            peak: Cell::new(0),
        })
    }

    /// Whether one more request may be held; counts a refusal when not.
    #[inline]
    pub fn admit(&self) -> bool {
        if self.held.get() < self.cap {
            true
        } else {
            self.refused.set(self.refused.get() + 1);
            false
        }
    }

    /// One more request held.
    #[inline]
    pub fn take(&self) {
        let h = self.held.get() + 1;
        self.held.set(h);
        if h > self.peak.get() {
            self.peak.set(h);
        }
    }

    /// One request fewer.
    #[inline]
    pub fn give(&self) {
        self.held.set(self.held.get() - 1);
    }

    /// Requests rejected because the cap was reached.
    pub fn refused(&self) -> u64 {
        self.refused.get()
    }

    /// The most requests held at once.
    pub fn peak(&self) -> u64 {
        self.peak.get()
    }

    /// The cap.
    pub fn cap(&self) -> u64 {
        self.cap
    }
}

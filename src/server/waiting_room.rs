//! Load shedding: connections that have not proved they know the cluster's secret wait in a
//! room of bounded size. A flood of idle or slow connections (a port scanner, a misconfigured
//! client, an attack) could otherwise hold every file descriptor the server has for the
//! handshake's 10 s, and writing `jobs.json` or submitting a batch job would fail with "Too many
//! open files". When the room is full the oldest waiting connection is shed (closed), first
//! among those of the newcomer's source when that source holds more than its share; a
//! legitimate peer authenticates in milliseconds, so it gets through a flood, and connections
//! that have authenticated are never counted. Pure: the accept loop closes what this says.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Connections that may wait to authenticate at once.
pub const MAX_WAITING: usize = 256;
/// Of those, from one source address.
pub const MAX_WAITING_PER_SOURCE: usize = 64;

/// Connections waiting to authenticate, by ticket (oldest first).
#[derive(Debug)]
pub struct WaitingRoom {
    waiting: BTreeMap<u64, IpAddr>,
    per_source: HashMap<IpAddr, usize>,
    max: usize,
    max_per_source: usize,
}

impl WaitingRoom {
    pub fn new(max: usize, max_per_source: usize) -> WaitingRoom {
        WaitingRoom {
            waiting: BTreeMap::new(),
            per_source: HashMap::new(),
            max: max.max(1),
            max_per_source: max_per_source.max(1),
        }
    }

    /// A connection from `source` starts its handshake with `ticket` (larger than any before);
    /// returns the tickets to shed, oldest first.
    pub fn enter(&mut self, ticket: u64, source: IpAddr) -> Vec<u64> {
        self.waiting.insert(ticket, source);
        *self.per_source.entry(source).or_default() += 1;
        let mut shed = Vec::new();
        while self.per_source.get(&source).copied().unwrap_or(0) > self.max_per_source {
            let oldest = self
                .waiting
                .iter()
                .find(|(_, s)| **s == source)
                .map(|(t, _)| *t);
            match oldest {
                Some(t) => {
                    self.leave(t);
                    shed.push(t);
                }
                None => break,
            }
        }
        while self.waiting.len() > self.max {
            let Some((&t, _)) = self.waiting.iter().next() else {
                break;
            };
            self.leave(t);
            shed.push(t);
        }
        shed
    }

    /// The connection of `ticket` authenticated, failed or closed: it waits no more.
    pub fn leave(&mut self, ticket: u64) {
        if let Some(source) = self.waiting.remove(&ticket) {
            if let Some(n) = self.per_source.get_mut(&source) {
                *n -= 1;
                if *n == 0 {
                    self.per_source.remove(&source);
                }
            }
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_full_room_sheds_the_oldest_and_a_greedy_source_its_own_oldest() {
        let mut room = WaitingRoom::new(4, 2);
        assert!(room.enter(1, ip(1)).is_empty());
        assert!(room.enter(2, ip(2)).is_empty());
        assert!(room.enter(3, ip(1)).is_empty());
        // A third from source 1 sheds source 1's oldest, not the room's.
        assert_eq!(room.enter(4, ip(1)), [1]);
        assert!(room.enter(5, ip(3)).is_empty());
        // Full (2, 3, 4, 5): the next sheds the oldest of all.
        assert_eq!(room.enter(6, ip(4)), [2]);
        assert_eq!(room.len(), 4);
        // Leaving frees a place; leaving twice changes nothing.
        room.leave(3);
        room.leave(3);
        assert!(room.enter(7, ip(5)).is_empty());
        assert_eq!(room.len(), 4);
    }
}

//! The Lua scripts of `lua/`, compiled into the binary. Each is `lua/lib.lua` followed by the
//! script itself, so helpers are shared while every script stays one EVALSHA body.
//! `redis::Script` sends EVALSHA and, on NOSCRIPT (e.g. after Redis restarted without its script
//! cache), loads the script and retries by itself.

use redis::Script;

macro_rules! lua {
    ($name:literal) => {
        Script::new(concat!(
            include_str!("../../lua/lib.lua"),
            "\n",
            include_str!(concat!("../../lua/", $name, ".lua"))
        ))
    };
}

pub struct Scripts {
    pub create_event: Script,
    pub book: Script,
    pub lock_seat: Script,
    pub confirm_seat: Script,
    pub unlock_seat: Script,
    pub cancel_booking: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            create_event: lua!("create_event"),
            book: lua!("book"),
            lock_seat: lua!("lock_seat"),
            confirm_seat: lua!("confirm_seat"),
            unlock_seat: lua!("unlock_seat"),
            cancel_booking: lua!("cancel_booking"),
        }
    }

    pub fn all(&self) -> [&Script; 6] {
        [
            &self.create_event,
            &self.book,
            &self.lock_seat,
            &self.confirm_seat,
            &self.unlock_seat,
            &self.cancel_booking,
        ]
    }
}

impl Default for Scripts {
    fn default() -> Self {
        Self::new()
    }
}

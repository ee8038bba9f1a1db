//! The typed stack of saved intermediates, with per-thread memory reuse across calls.
//!
//! The reverse sweep of a generated gradient needs some values that the forward sweep
//! overwrites (a variable reassigned in a loop, a branch decision, a buffer entry about
//! to be written). The forward sweep pushes them on a [`Stack`]; the reverse sweep pops
//! them in the opposite order. Which values are saved is decided by the macro; this
//! module only stores them.
//!
//! A [`Stack`] has one lane per storage kind, so values are stored unboxed and without
//! tags: `f64`, `f32`, integers (widened to 64-bit words; 128-bit integers take two), and
//! single bits for `bool`s, packed 64 to a word. Pops must mirror pushes type for type,
//! which generated code guarantees.
//!
//! [`Stack::acquire`] lends a stack from a thread-local pool and the returned
//! [`StackGuard`] gives it back, cleared but with its capacity, when dropped. So a
//! gradient that is called repeatedly reaches a steady state with no heap allocation,
//! and nested or recursive gradient calls on one thread each get their own stack.
//!
//! ```
//! use autodiff_runtime::stack::{last_bytes_pushed, Stack};
//!
//! {
//!     let mut stack = Stack::acquire();
//!     stack.push(1.5_f64);
//!     stack.push_bit(true);
//!     stack.push(7_usize);
//!     assert_eq!(stack.pop::<usize>(), 7);
//!     assert!(stack.pop_bit());
//!     assert_eq!(stack.pop::<f64>(), 1.5);
//! }
//! assert_eq!(last_bytes_pushed(), 8 + 1 + 8);
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::{Deref, DerefMut};

const UNDERFLOW: &str = "autodiff stack underflow (internal error, please report)";

/// A typed LIFO stack of saved values: one lane each for `f64`, `f32`, integers and bits.
///
/// Usually obtained with [`Stack::acquire`], which reuses memory across calls; a
/// standalone stack can be made with [`Stack::new`].
///
/// ```
/// use autodiff_runtime::stack::Stack;
///
/// let mut stack = Stack::new();
/// stack.push(-3_i32);
/// stack.push(2.5_f32);
/// assert_eq!(stack.pop::<f32>(), 2.5);
/// assert_eq!(stack.pop::<i32>(), -3);
/// assert!(stack.is_empty());
/// ```
/// The lengths of a [`Stack`]'s lanes at some point (see [`Stack::mark`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    f64s: usize,
    f32s: usize,
    words: usize,
    bits: usize,
}

#[derive(Default)]
pub struct Stack {
    f64s: Vec<f64>,
    f32s: Vec<f32>,
    words: Vec<u64>,
    bits: Vec<u64>,
    bit_len: usize,
    /// Bytes pushed (bits excluded) since the stack was acquired or created.
    pushed_bytes: usize,
    /// Bits pushed since the stack was acquired or created.
    pushed_bits: usize,
    /// The most bytes held at once since the stack was acquired or created.
    peak_held: usize,
    /// Pushes since the held size was last compared with the peak: the peak is
    /// reached just before the first pop that follows pushes, so only pops (and
    /// [`peak_bytes`](Stack::peak_bytes)) look, and a push costs one store.
    unnoted: bool,
    /// Bytes in lanes taken out (see [`Stack::take_floats`]) when they were taken.
    lent: usize,
    /// Memory for the lanes while they are taken out: a callee given the stack
    /// meanwhile pushes here, and what it grew is kept for the next time.
    spare_f64s: Vec<f64>,
    spare_f32s: Vec<f32>,
    spare_words: Vec<u64>,
    /// Adjoint buffers for arrays a callee takes by value that the caller does
    /// not differentiate (see [`Stack::take_sink`]).
    sink_f64s: Vec<f64>,
    sink_f32s: Vec<f32>,
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("f64s", &self.f64s.len())
            .field("f32s", &self.f32s.len())
            .field("words", &self.words.len())
            .field("bits", &self.bit_len)
            .field("bytes_pushed", &self.bytes_pushed())
            .finish()
    }
}

thread_local! {
    /// Stacks not currently lent out on this thread, with their capacity.
    static POOL: RefCell<Vec<Stack>> = const { RefCell::new(Vec::new()) };
    /// What the most recently dropped [`StackGuard`] on this thread had pushed.
    static LAST_BYTES: Cell<usize> = const { Cell::new(0) };
    /// The largest [`StackGuard`] total on this thread so far.
    static PEAK_BYTES: Cell<usize> = const { Cell::new(0) };
    /// The most bytes the most recently dropped [`StackGuard`] held at once.
    static LAST_PEAK: Cell<usize> = const { Cell::new(0) };
}

impl Stack {
    /// Creates an empty stack that owns its memory (not taken from the pool).
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// assert!(Stack::new().is_empty());
    /// ```
    pub fn new() -> Stack {
        Stack::default()
    }

    /// Borrows an empty stack from this thread's pool, or makes a new one if the pool
    /// is empty (for instance on first use, or when a guard is already alive: nested and
    /// recursive gradient calls each get their own stack).
    ///
    /// Dropping the guard clears the stack, keeping its capacity, and returns it to the
    /// pool, so repeated calls allocate nothing once the capacity suffices.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    ///
    /// let mut outer = Stack::acquire();
    /// outer.push(1.0_f64);
    /// {
    ///     let inner = Stack::acquire(); // a second, independent stack
    ///     assert!(inner.is_empty());
    /// }
    /// assert_eq!(outer.pop::<f64>(), 1.0);
    /// ```
    pub fn acquire() -> StackGuard {
        let pooled = POOL
            .try_with(|pool| pool.try_borrow_mut().ok().and_then(|mut p| p.pop()))
            .ok()
            .flatten();
        StackGuard {
            stack: pooled.unwrap_or_default(),
        }
    }

    /// Pushes one value on the lane of its type.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push(u8::MAX);
    /// assert_eq!(s.pop::<u8>(), 255);
    /// ```
    #[inline]
    pub fn push<T: Saved>(&mut self, v: T) {
        v.push_on(self);
        self.unnoted = true;
    }

    /// Pushes one value into room made by [`reserve`](Stack::reserve): what the
    /// generated code uses in loops that push a known number of values per
    /// iteration. Unlike [`push`](Stack::push) it never grows the stack, so the loop
    /// around it contains no call that returns, and LLVM keeps the loop's
    /// accumulators in registers across it.
    ///
    /// # Panics
    ///
    /// With "autodiff stack reservation exceeded (internal error, please report)"
    /// if the value's lane is full (a `bool` goes to the bit lane, which grows as with
    /// `push`).
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.reserve::<f64>(3);
    /// for k in 0..3 {
    ///     s.push_reserved(k as f64);
    /// }
    /// assert_eq!(s.pop::<f64>(), 2.0);
    /// ```
    #[inline]
    pub fn push_reserved<T: Saved>(&mut self, v: T) {
        v.push_reserved_on(self);
        self.unnoted = true;
    }

    /// Bytes held right now (bits rounded up to bytes).
    pub fn held_bytes(&self) -> usize {
        self.f64s.len() * 8
            + self.f32s.len() * 4
            + self.words.len() * 8
            + self.bit_len.div_ceil(8)
            + self.lent
    }

    /// The most bytes held at once since the stack was acquired: the memory a
    /// gradient call needed, as opposed to [`bytes_pushed`](Stack::bytes_pushed),
    /// the total it wrote (a checkpointed loop pushes each iteration's tape twice but
    /// holds one at a time).
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push(1.0_f64);
    /// s.push(2.0_f64);
    /// s.pop::<f64>();
    /// s.push(3.0_f64);
    /// assert_eq!((s.bytes_pushed(), s.peak_bytes()), (24, 16));
    /// ```
    pub fn peak_bytes(&self) -> usize {
        self.peak_held.max(self.held_bytes())
    }

    /// Compares the held size with the peak if anything was pushed since the last
    /// comparison; called before every pop.
    #[inline]
    fn settle_peak(&mut self) {
        if self.unnoted {
            self.unnoted = false;
            let held = self.held_bytes();
            if held > self.peak_held {
                self.peak_held = held;
            }
        }
    }

    /// Pops the most recent value of type `T`'s lane.
    ///
    /// # Panics
    ///
    /// With "autodiff stack underflow (internal error, please report)" if that lane is
    /// empty.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push(-1_i64);
    /// assert_eq!(s.pop::<i64>(), -1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn pop<T: Saved>(&mut self) -> T {
        T::pop_from(self)
    }

    /// Pushes one bit (a branch decision, say); bits are packed 64 to a word.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push_bit(true);
    /// s.push_bit(false);
    /// assert!(!s.pop_bit());
    /// assert!(s.pop_bit());
    /// ```
    #[inline]
    pub fn push_bit(&mut self, b: bool) {
        let word = self.bit_len / 64;
        let mask = 1u64 << (self.bit_len % 64);
        if word == self.bits.len() {
            self.bits.push(0);
        }
        if b {
            self.bits[word] |= mask;
        } else {
            self.bits[word] &= !mask;
        }
        self.bit_len += 1;
        self.pushed_bits += 1;
        self.unnoted = true;
    }

    /// Pops the most recent bit.
    ///
    /// # Panics
    ///
    /// With "autodiff stack underflow (internal error, please report)" if no bit is
    /// left.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push_bit(true);
    /// assert!(s.pop_bit());
    /// ```
    #[inline]
    #[track_caller]
    pub fn pop_bit(&mut self) -> bool {
        self.settle_peak();
        if self.bit_len == 0 {
            panic!("{UNDERFLOW}");
        }
        self.bit_len -= 1;
        let word = self.bit_len / 64;
        let b = (self.bits[word] >> (self.bit_len % 64)) & 1 == 1;
        if self.bit_len % 64 == 0 {
            self.bits.truncate(word);
        }
        b
    }

    /// Pushes the elements of `s` (on `T`'s lane), then its length (on the integer lane).
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push_slice(&[1.0_f64, 2.0, 3.0]);
    /// let mut back = [0.0; 3];
    /// s.pop_slice_into(&mut back);
    /// assert_eq!(back, [1.0, 2.0, 3.0]);
    /// ```
    #[inline]
    pub fn push_slice<T: Saved>(&mut self, s: &[T]) {
        T::push_all(self, s);
        self.push(s.len() as u64);
    }

    /// Pushes the elements of `s` into room made by [`reserve`](Stack::reserve),
    /// without its length: what generated loops use to save an array whose length
    /// does not change inside them. [`pop_slice_reserved`](Stack::pop_slice_reserved)
    /// takes the length from its buffer.
    ///
    /// # Panics
    ///
    /// With "autodiff stack reservation exceeded (internal error, please report)"
    /// if the lane has less room than `s.len()`.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.reserve::<f64>(2);
    /// s.push_slice_reserved(&[1.0_f64, 2.0]);
    /// let mut back = vec![0.0; 2];
    /// s.pop_slice_reserved(&mut back);
    /// assert_eq!(back, [1.0, 2.0]);
    /// ```
    #[inline]
    pub fn push_slice_reserved<F: FloatLane>(&mut self, s: &[F]) {
        let lane = F::lane(self);
        if lane.capacity() - lane.len() < s.len() {
            reservation_exceeded();
        }
        lane.extend_from_slice(s);
        self.pushed_bytes += std::mem::size_of_val(s);
        self.unnoted = true;
    }

    /// Pops `dst.len()` values saved by
    /// [`push_slice_reserved`](Stack::push_slice_reserved) into `dst`.
    ///
    /// # Panics
    ///
    /// With "autodiff stack underflow (internal error, please report)" if the lane
    /// holds fewer values.
    #[inline]
    #[track_caller]
    pub fn pop_slice_reserved<F: FloatLane>(&mut self, dst: &mut [F]) {
        self.settle_peak();
        pop_slice_from(F::lane(self), dst);
    }

    /// Pops a slice saved by [`push_slice`](Stack::push_slice) into `dst`, restoring it
    /// exactly.
    ///
    /// # Panics
    ///
    /// If the saved length differs from `dst.len()`, or on underflow (both internal
    /// errors).
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push_slice(&[true, false, true]);
    /// let mut back = [false; 3];
    /// s.pop_slice_into(&mut back);
    /// assert_eq!(back, [true, false, true]);
    /// ```
    #[track_caller]
    pub fn pop_slice_into<T: Saved>(&mut self, dst: &mut [T]) {
        let len = self.pop_len();
        assert_eq!(
            len,
            dst.len(),
            "autodiff stack: saved slice length does not match the buffer (internal error, please report)"
        );
        let start = T::slice_start(self, len, false);
        T::copy_out(self, start, dst);
        T::truncate_lane(self, start);
    }

    /// Copies a slice saved by [`push_slice`](Stack::push_slice) into `dst` and leaves it
    /// on the stack.
    ///
    /// # Panics
    ///
    /// As [`pop_slice_into`](Stack::pop_slice_into).
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push_slice(&[4_u32, 5]);
    /// let mut a = [0; 2];
    /// s.peek_slice_into(&mut a);
    /// let mut b = [0; 2];
    /// s.pop_slice_into(&mut b);
    /// assert_eq!(a, b);
    /// ```
    #[track_caller]
    pub fn peek_slice_into<T: Saved>(&self, dst: &mut [T]) {
        let len = match self.words.last() {
            Some(&w) => len_from_word(w),
            None => panic!("{UNDERFLOW}"),
        };
        assert_eq!(
            len,
            dst.len(),
            "autodiff stack: saved slice length does not match the buffer (internal error, please report)"
        );
        let start = T::slice_start(self, len, true);
        T::copy_out(self, start, dst);
    }

    /// Pops a slice saved by [`push_slice`](Stack::push_slice) into `dst`, whatever its
    /// length: `dst` is cleared and refilled (reusing its capacity).
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push_slice(&[1.0_f32, 2.0]);
    /// let mut v = vec![9.0_f32; 5];
    /// s.pop_vec_into(&mut v);
    /// assert_eq!(v, [1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn pop_vec_into<T: Saved>(&mut self, dst: &mut Vec<T>) {
        let len = self.pop_len();
        let start = T::slice_start(self, len, false);
        dst.clear();
        dst.reserve(len);
        T::extend_out(self, start, len, dst);
        T::truncate_lane(self, start);
    }

    /// Reserves room for `n` more values of type `T` (plus a slice length), so that a
    /// known number of pushes does not reallocate repeatedly.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.reserve::<f64>(100);
    /// s.push(1.0_f64);
    /// ```
    #[inline]
    pub fn reserve<T: Saved>(&mut self, n: usize) {
        T::reserve_lane(self, n);
        self.words.reserve(1);
    }

    /// Bytes pushed since this stack was acquired (or created): every push counts, pops
    /// do not subtract. `f64` and integers count 8 bytes (128-bit integers 16), `f32` 4,
    /// a slice's length 8, and bits 1/8 byte each, rounded up.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push(1.0_f32);
    /// s.push_bit(true);
    /// let _ = s.pop::<f32>();
    /// assert_eq!(s.bytes_pushed(), 5);
    /// ```
    pub fn bytes_pushed(&self) -> usize {
        self.pushed_bytes + self.pushed_bits.div_ceil(8)
    }

    /// Where the stack stands now: the length of each lane. With
    /// [`reserve_repeat`](Stack::reserve_repeat), lets a loop of known trip count
    /// reserve for all its iterations once the first has shown what one pushes.
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// let mark = s.mark();
    /// s.push(1.0_f64);
    /// s.push(2_usize);
    /// s.reserve_repeat(mark, 99); // 99 more iterations like the first
    /// for k in 0..99 {
    ///     s.push(1.0_f64);
    ///     s.push(k as usize);
    /// }
    /// assert_eq!(s.bytes_pushed(), 100 * 16);
    /// ```
    pub fn mark(&self) -> Mark {
        Mark {
            f64s: self.f64s.len(),
            f32s: self.f32s.len(),
            words: self.words.len(),
            bits: self.bit_len,
        }
    }

    /// Reserves, in every lane, `times` more of what was pushed (net) since `mark`,
    /// exactly rather than by doubling, so that a loop whose iterations push alike
    /// holds no more memory than its tape. A lane that shrank since `mark` reserves
    /// nothing.
    pub fn reserve_repeat(&mut self, mark: Mark, times: usize) {
        fn grow<T>(lane: &mut Vec<T>, since: usize, times: usize) {
            let more = lane.len().saturating_sub(since).saturating_mul(times);
            lane.reserve_exact(more);
        }
        grow(&mut self.f64s, mark.f64s, times);
        grow(&mut self.f32s, mark.f32s, times);
        grow(&mut self.words, mark.words, times);
        let bits = self.bit_len.saturating_sub(mark.bits).saturating_mul(times);
        let words = (self.bit_len.saturating_add(bits))
            .div_ceil(64)
            .saturating_sub(self.bits.len());
        self.bits.reserve_exact(words);
    }

    /// Whether every lane is empty (all pushes have been popped).
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// s.push_bit(false);
    /// assert!(!s.is_empty());
    /// s.pop_bit();
    /// assert!(s.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.f64s.is_empty() && self.f32s.is_empty() && self.words.is_empty() && self.bit_len == 0
    }

    /// Empties every lane and resets the byte count, keeping the capacity.
    fn clear(&mut self) {
        self.f64s.clear();
        self.f32s.clear();
        self.words.clear();
        self.bits.clear();
        self.bit_len = 0;
        self.pushed_bytes = 0;
        self.pushed_bits = 0;
        self.peak_held = 0;
        self.unnoted = false;
        self.lent = 0;
        self.spare_f64s.clear();
        self.spare_f32s.clear();
        self.spare_words.clear();
    }

    #[track_caller]
    #[inline]
    fn pop_len(&mut self) -> usize {
        len_from_word(self.pop::<u64>())
    }

    #[inline]
    fn push_word(&mut self, w: u64) {
        self.words.push(w);
        self.pushed_bytes += 8;
    }

    #[inline]
    #[track_caller]
    fn pop_word(&mut self) -> u64 {
        self.settle_peak();
        match self.words.pop() {
            Some(w) => w,
            None => panic!("{UNDERFLOW}"),
        }
    }
}

/// One lane of a [`Stack`], taken out of it for the duration of a loop nest
/// ([`Stack::take_floats`], [`Stack::take_words`]) and put back after it.
///
/// A local `Vec` whose length LLVM keeps in a register: pushing through the stack
/// itself stores the length to memory on every push (the stack outlives the
/// loop, and a panicking bounds check in the loop may observe it), and the next
/// push waits for that store.
///
/// ```
/// use autodiff_runtime::stack::Stack;
/// let mut s = Stack::new();
/// let mut floats = s.take_floats::<f64>(2);
/// floats.push(1.0);
/// floats.push(2.0);
/// s.put_floats(floats);
/// assert_eq!(s.bytes_pushed(), 16);
/// let mut floats = s.take_floats::<f64>(0);
/// assert_eq!(floats.pop(), 2.0);
/// s.put_floats(floats);
/// assert_eq!(s.pop::<f64>(), 1.0);
/// ```
///
/// The counts of [`Stack::bytes_pushed`] and [`Stack::peak_bytes`] are kept without
/// touching every push and pop: a lane that only grows counts when it is put
/// back; one whose iterations push and then pop (a loop differentiated as it
/// runs) is told its turning point in each iteration ([`note_peak`](Lane::note_peak)).
#[derive(Debug)]
pub struct Lane<T> {
    items: Vec<T>,
    /// The length when taken.
    start: usize,
    /// Values pushed by iterations that popped them again (see `note_peak`).
    pushed: usize,
    /// The longest the lane was at a noted peak.
    high: usize,
    /// The stack's peak when the lane was taken (see `Stack::settle_lane`).
    outer_peak: usize,
}

impl<T: Copy> Lane<T> {
    fn new(items: Vec<T>, outer_peak: usize) -> Lane<T> {
        Lane {
            start: items.len(),
            high: items.len(),
            items,
            pushed: 0,
            outer_peak,
        }
    }

    /// At the turning point of an iteration that pops what it pushed (after its
    /// pushes, before its pops): counts the pushes and the peak.
    #[inline]
    pub fn note_peak(&mut self) {
        let len = self.items.len();
        self.pushed += len.saturating_sub(self.start);
        self.high = self.high.max(len);
    }

    /// Pushes into the room reserved when the lane was taken.
    ///
    /// # Panics
    ///
    /// With "autodiff stack reservation exceeded (internal error, please report)"
    /// if that room is used up.
    #[inline]
    pub fn push(&mut self, v: T) {
        if self.items.len() == self.items.capacity() {
            reservation_exceeded();
        }
        self.items.push(v);
    }

    /// Pops the most recent value.
    ///
    /// # Panics
    ///
    /// With "autodiff stack underflow (internal error, please report)" if the lane
    /// is empty.
    #[inline]
    #[track_caller]
    pub fn pop(&mut self) -> T {
        match self.items.pop() {
            Some(v) => v,
            None => panic!("{UNDERFLOW}"),
        }
    }
}

impl<T: Copy> Lane<T> {
    /// The last `n` values, oldest first: a generated reverse loop over `0..n`
    /// that would pop one value per trip reads trip `j`'s as `tail(n)[j]`, then
    /// drops them with [`drop_tail`](Lane::drop_tail).
    ///
    /// # Panics
    ///
    /// With "autodiff stack underflow (internal error, please report)" if the lane
    /// holds fewer than `n` values.
    #[inline]
    #[track_caller]
    pub fn tail(&self, n: usize) -> &[T] {
        &self.items[self.tail_start(n)..]
    }

    /// Drops the last `n` values (after reading them with [`tail`](Lane::tail)).
    ///
    /// # Panics
    ///
    /// With "autodiff stack underflow (internal error, please report)" if the lane
    /// holds fewer than `n` values.
    #[inline]
    #[track_caller]
    pub fn drop_tail(&mut self, n: usize) {
        self.items.truncate(self.tail_start(n));
    }

    /// Where the last `n` values start; panics on underflow.
    #[inline]
    #[track_caller]
    fn tail_start(&self, n: usize) -> usize {
        match self.items.len().checked_sub(n) {
            Some(start) => start,
            None => panic!("{UNDERFLOW}"),
        }
    }

    /// Pushes a slice into the room reserved when the lane was taken (see
    /// [`Stack::push_slice_reserved`]).
    ///
    /// # Panics
    ///
    /// With "autodiff stack reservation exceeded (internal error, please report)"
    /// if that room is too small.
    #[inline]
    pub fn push_slice(&mut self, s: &[T]) {
        if self.items.capacity() - self.items.len() < s.len() {
            reservation_exceeded();
        }
        self.items.extend_from_slice(s);
    }

    /// Pops `dst.len()` values pushed by [`push_slice`](Lane::push_slice) into
    /// `dst`.
    ///
    /// # Panics
    ///
    /// With "autodiff stack underflow (internal error, please report)" if the lane
    /// holds fewer values.
    #[inline]
    #[track_caller]
    pub fn pop_slice_into(&mut self, dst: &mut [T]) {
        pop_slice_from(&mut self.items, dst);
    }
}

/// Moves the last `dst.len()` values of `lane` into `dst`.
#[inline]
#[track_caller]
fn pop_slice_from<T: Copy>(lane: &mut Vec<T>, dst: &mut [T]) {
    let Some(start) = lane.len().checked_sub(dst.len()) else {
        panic!("{UNDERFLOW}")
    };
    dst.copy_from_slice(&lane[start..]);
    lane.truncate(start);
}

impl Lane<u64> {
    /// Pushes an integer (one word, two for 128-bit types).
    #[inline]
    pub fn push_int<I: Saved>(&mut self, v: I) {
        if self.items.capacity() - self.items.len() < I::UNITS {
            reservation_exceeded();
        }
        v.push_words(&mut self.items);
    }

    /// Pops an integer pushed by [`push_int`](Lane::push_int).
    #[inline]
    #[track_caller]
    pub fn pop_int<I: Saved>(&mut self) -> I {
        I::pop_words(&mut self.items)
    }
}

impl Stack {
    /// Takes the float lane of type `F` out of the stack, with room for `room` more
    /// pushes, until [`put_floats`](Stack::put_floats) puts it back. Pushes and
    /// pops of `F` go through the [`Lane`] meanwhile.
    #[inline]
    pub fn take_floats<F: FloatLane>(&mut self, room: usize) -> Lane<F> {
        self.settle_peak();
        let spare = std::mem::take(F::spare(self));
        let lane = F::lane(self);
        lane.reserve(room);
        let items = std::mem::replace(lane, spare);
        self.lend(items, std::mem::size_of::<F>())
    }

    /// Puts back a lane taken by [`take_floats`](Stack::take_floats), counting
    /// what was pushed into it.
    #[inline]
    pub fn put_floats<F: FloatLane>(&mut self, lane: Lane<F>) {
        let items = self.settle_lane(lane, std::mem::size_of::<F>());
        let callee = std::mem::replace(F::lane(self), items);
        *F::spare(self) = callee;
    }

    /// Takes the integer lane out of the stack, with room for `room` more words
    /// (see [`take_floats`](Stack::take_floats)).
    #[inline]
    pub fn take_words(&mut self, room: usize) -> Lane<u64> {
        self.settle_peak();
        self.words.reserve(room);
        let spare = std::mem::take(&mut self.spare_words);
        let items = std::mem::replace(&mut self.words, spare);
        self.lend(items, 8)
    }

    /// Puts back a lane taken by [`take_words`](Stack::take_words).
    #[inline]
    pub fn put_words(&mut self, lane: Lane<u64>) {
        let items = self.settle_lane(lane, 8);
        self.spare_words = std::mem::replace(&mut self.words, items);
    }

    /// A lane's values taken out: held as before (counted in `lent`), while the
    /// stack's peak restarts from what it holds now, to measure what the stack
    /// holds beside the lane while it is out (see `settle_lane`).
    fn lend<T: Copy>(&mut self, items: Vec<T>, size: usize) -> Lane<T> {
        self.lent += items.len() * size;
        let lane = Lane::new(items, self.peak_held);
        self.peak_held = self.held_bytes();
        lane
    }

    /// A buffer of at least `len` values to receive the adjoint of an array that a
    /// callee takes by value (a `Vec` it owns) and the caller does not
    /// differentiate: a callee's reverse sweep only adds into the adjoints of the
    /// arrays it reads, so what the buffer held before does not matter, and it is
    /// not cleared. It is kept with the stack for the next call
    /// ([`put_sink`](Stack::put_sink)); only growth is zero-filled. (An array
    /// passed by reference gets an empty adjoint instead, which the callee's
    /// cores take as "not wanted".)
    ///
    /// ```
    /// use autodiff_runtime::stack::Stack;
    /// let mut s = Stack::new();
    /// let mut sink = s.take_sink::<f64>(3);
    /// sink[..3].iter_mut().for_each(|v| *v += 1.0);
    /// s.put_sink(sink);
    /// assert!(s.take_sink::<f64>(2).len() >= 2);
    /// ```
    #[inline]
    pub fn take_sink<F: FloatLane>(&mut self, len: usize) -> Vec<F> {
        let mut sink = std::mem::take(F::sink(self));
        if sink.len() < len {
            sink.resize(len, F::default());
        }
        sink
    }

    /// Gives back a buffer taken by [`take_sink`](Stack::take_sink), keeping the
    /// larger of it and any taken meanwhile.
    #[inline]
    pub fn put_sink<F: FloatLane>(&mut self, sink: Vec<F>) {
        let kept = F::sink(self);
        if sink.len() >= kept.len() {
            *kept = sink;
        }
    }

    /// Counts what a taken lane pushed and gives back its values.
    ///
    /// While a lane is out, the stack's lane in its place is the spare one: a
    /// callee given the stack pushes and pops there (it pops all it pushes before
    /// it returns), and the memory it grew stays spare for the next time. The
    /// lane's own length is not seen meanwhile, so the peak counts it at its
    /// longest (noted at iterations' turning points and at the end) beside the
    /// most the stack held while it was out: an upper bound, exact when nothing
    /// else runs on the stack.
    fn settle_lane<T>(&mut self, lane: Lane<T>, size: usize) -> Vec<T> {
        self.settle_peak();
        self.lent = self.lent.saturating_sub(lane.start * size);
        let grown = lane.items.len().saturating_sub(lane.start);
        self.pushed_bytes += (lane.pushed + grown) * size;
        let extra = lane.high.max(lane.items.len()).saturating_sub(lane.start) * size;
        self.peak_held = lane.outer_peak.max(self.peak_held + extra);
        lane.items
    }
}

/// `f64` and `f32`, the types with a lane of their own (see [`Stack::take_floats`]).
pub trait FloatLane: Saved + Default {
    #[doc(hidden)]
    fn lane(s: &mut Stack) -> &mut Vec<Self>;
    #[doc(hidden)]
    fn spare(s: &mut Stack) -> &mut Vec<Self>;
    #[doc(hidden)]
    fn sink(s: &mut Stack) -> &mut Vec<Self>;
}

impl FloatLane for f64 {
    fn lane(s: &mut Stack) -> &mut Vec<f64> {
        &mut s.f64s
    }
    fn spare(s: &mut Stack) -> &mut Vec<f64> {
        &mut s.spare_f64s
    }
    fn sink(s: &mut Stack) -> &mut Vec<f64> {
        &mut s.sink_f64s
    }
}

impl FloatLane for f32 {
    fn lane(s: &mut Stack) -> &mut Vec<f32> {
        &mut s.f32s
    }
    fn spare(s: &mut Stack) -> &mut Vec<f32> {
        &mut s.spare_f32s
    }
    fn sink(s: &mut Stack) -> &mut Vec<f32> {
        &mut s.sink_f32s
    }
}

#[cold]
#[inline(never)]
fn reservation_exceeded() -> ! {
    panic!("autodiff stack reservation exceeded (internal error, please report)")
}

#[track_caller]
fn len_from_word(w: u64) -> usize {
    match usize::try_from(w) {
        Ok(len) => len,
        Err(_) => panic!("{UNDERFLOW}"),
    }
}

/// Bytes pushed by the most recently dropped [`StackGuard`] on this thread (0 if none).
///
/// After a call to a generated `f_grad`, this tells how much the forward sweep saved
/// (0 for loop-free code). Nested guards each record their own total when dropped, so
/// the outermost one (dropped last) is what remains.
///
/// ```
/// use autodiff_runtime::stack::{last_bytes_pushed, Stack};
///
/// let mut s = Stack::acquire();
/// s.push(1.0_f64);
/// s.push(2.0_f64);
/// drop(s);
/// assert_eq!(last_bytes_pushed(), 16);
/// ```
pub fn last_bytes_pushed() -> usize {
    LAST_BYTES.try_with(Cell::get).unwrap_or(0)
}

/// The most bytes the most recently dropped [`StackGuard`] on this thread held at
/// once (see [`Stack::peak_bytes`]): after a gradient call, the stack memory it
/// needed.
///
/// ```
/// use autodiff_runtime::stack::{last_peak_bytes, Stack};
///
/// let mut s = Stack::acquire();
/// s.push(1.0_f64);
/// s.pop::<f64>();
/// s.push(2.0_f64);
/// drop(s);
/// assert_eq!(last_peak_bytes(), 8);
/// ```
pub fn last_peak_bytes() -> usize {
    LAST_PEAK.try_with(Cell::get).unwrap_or(0)
}

/// The largest [`bytes_pushed`](Stack::bytes_pushed) of any [`StackGuard`] dropped on
/// this thread so far (0 if none).
///
/// ```
/// use autodiff_runtime::stack::{peak_bytes_pushed, Stack};
///
/// let mut s = Stack::acquire();
/// s.push_slice(&[0.0_f64; 4]);
/// drop(s);
/// assert!(peak_bytes_pushed() >= 40);
/// ```
pub fn peak_bytes_pushed() -> usize {
    PEAK_BYTES.try_with(Cell::get).unwrap_or(0)
}

/// A [`Stack`] lent by [`Stack::acquire`]; dereferences to it, and gives it back to the
/// thread's pool (cleared, capacity kept) when dropped.
///
/// Dropping never panics, also during unwinding or thread teardown (then the stack's
/// memory is simply freed).
///
/// ```
/// use autodiff_runtime::stack::Stack;
///
/// let mut guard = Stack::acquire();
/// guard.push(3_usize);
/// assert_eq!(guard.bytes_pushed(), 8);
/// ```
pub struct StackGuard {
    stack: Stack,
}

impl fmt::Debug for StackGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StackGuard").field(&self.stack).finish()
    }
}

impl Deref for StackGuard {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl DerefMut for StackGuard {
    fn deref_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }
}

impl Drop for StackGuard {
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.stack);
        let bytes = stack.bytes_pushed();
        let peak = stack.peak_bytes();
        let _ = LAST_BYTES.try_with(|c| c.set(bytes));
        let _ = LAST_PEAK.try_with(|c| c.set(peak));
        let _ = PEAK_BYTES.try_with(|c| c.set(c.get().max(bytes)));
        stack.clear();
        let _ = POOL.try_with(|pool| {
            if let Ok(mut pool) = pool.try_borrow_mut() {
                // Most threads only ever hold one stack: room for one, not the
                // four a first push would make.
                if pool.capacity() == 0 {
                    pool.reserve_exact(1);
                }
                pool.push(stack);
            }
        });
    }
}

mod sealed {
    use super::Stack;

    /// The lane operations behind [`Saved`](super::Saved); private so that only this
    /// module can implement them.
    ///
    /// Positions are in lane units: elements for the `f64`/`f32`/bit lanes, 64-bit words
    /// for the integer lane (where one value may take `UNITS` words).
    pub trait Sealed: Copy {
        /// Lane units per value.
        const UNITS: usize;
        /// Whether the value lives on the integer lane, where slice lengths live too.
        const ON_WORD_LANE: bool;
        fn push_on(self, s: &mut Stack);
        /// Pushes into capacity reserved beforehand ([`Stack::reserve`]): a full
        /// lane panics instead of growing, so that the loop holding the push has
        /// no call that returns (and LLVM keeps its values in registers). The bit
        /// lane (`bool`) grows as with `push`.
        #[inline]
        fn push_reserved_on(self, s: &mut Stack) {
            if Self::ON_WORD_LANE && s.words.capacity() - s.words.len() < Self::UNITS {
                super::reservation_exceeded();
            }
            self.push_on(s);
        }
        fn pop_from(s: &mut Stack) -> Self;
        /// An integer as words on a taken word lane (see `Lane::push_int`).
        fn push_words(self, words: &mut Vec<u64>) {
            let _ = words;
            unreachable!("only integers go to the word lane")
        }
        #[track_caller]
        fn pop_words(words: &mut Vec<u64>) -> Self {
            let _ = words;
            unreachable!("only integers go to the word lane")
        }
        fn lane_len(s: &Stack) -> usize;
        /// The value starting at lane position `pos`.
        fn get(s: &Stack, pos: usize) -> Self;
        fn truncate_lane(s: &mut Stack, len: usize);
        fn reserve_lane(s: &mut Stack, n: usize);

        #[inline]
        fn push_all(s: &mut Stack, src: &[Self]) {
            Self::reserve_lane(s, src.len());
            for &v in src {
                v.push_on(s);
            }
        }

        /// Where a saved slice of `len` values starts on the lane; `length_on_top` when
        /// its length word has not been popped yet.
        #[track_caller]
        fn slice_start(s: &Stack, len: usize, length_on_top: bool) -> usize {
            let skip = usize::from(length_on_top && Self::ON_WORD_LANE);
            len.checked_mul(Self::UNITS)
                .and_then(|units| Self::lane_len(s).checked_sub(skip)?.checked_sub(units))
                .unwrap_or_else(|| panic!("{}", super::UNDERFLOW))
        }

        #[inline]
        fn copy_out(s: &Stack, start: usize, dst: &mut [Self]) {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = Self::get(s, start + j * Self::UNITS);
            }
        }

        #[inline]
        fn extend_out(s: &Stack, start: usize, len: usize, dst: &mut Vec<Self>) {
            dst.extend((0..len).map(|j| Self::get(s, start + j * Self::UNITS)));
        }
    }
}

/// A value type that can be saved on a [`Stack`]: `f64`, `f32`, `bool` and every
/// primitive integer type. Sealed: the lane layout is this crate's business.
///
/// ```
/// use autodiff_runtime::stack::{Saved, Stack};
///
/// fn round_trip<T: Saved + PartialEq + std::fmt::Debug>(v: T) {
///     let mut s = Stack::new();
///     s.push(v);
///     assert_eq!(s.pop::<T>(), v);
/// }
/// round_trip(i128::MIN);
/// round_trip(true);
/// ```
pub trait Saved: Copy + sealed::Sealed {}

macro_rules! float_lane {
    ($t:ty, $lane:ident, $bits:ty) => {
        impl Saved for $t {}
        impl sealed::Sealed for $t {
            const UNITS: usize = 1;
            const ON_WORD_LANE: bool = false;
            #[inline]
            fn push_on(self, s: &mut Stack) {
                s.$lane.push(self);
                s.pushed_bytes += std::mem::size_of::<$t>();
            }
            #[inline]
            fn push_reserved_on(self, s: &mut Stack) {
                if s.$lane.len() == s.$lane.capacity() {
                    reservation_exceeded();
                }
                self.push_on(s);
            }
            #[inline]
            #[track_caller]
            fn pop_from(s: &mut Stack) -> Self {
                s.settle_peak();
                match s.$lane.pop() {
                    Some(v) => v,
                    None => panic!("{UNDERFLOW}"),
                }
            }
            /// A value whose type the macro could not see (`let c = table(i)`,
            /// a passive call's result) is saved as an integer: its bits.
            #[inline]
            fn push_words(self, words: &mut Vec<u64>) {
                words.push(u64::from(self.to_bits()));
            }
            #[inline]
            #[track_caller]
            fn pop_words(words: &mut Vec<u64>) -> Self {
                match words.pop() {
                    Some(w) => <$t>::from_bits(w as $bits),
                    None => panic!("{UNDERFLOW}"),
                }
            }
            #[inline]
            fn lane_len(s: &Stack) -> usize {
                s.$lane.len()
            }
            #[inline]
            fn get(s: &Stack, pos: usize) -> Self {
                s.$lane[pos]
            }
            #[inline]
            fn truncate_lane(s: &mut Stack, len: usize) {
                s.$lane.truncate(len);
            }
            #[inline]
            fn reserve_lane(s: &mut Stack, n: usize) {
                s.$lane.reserve(n);
            }
            #[inline]
            fn push_all(s: &mut Stack, src: &[Self]) {
                s.$lane.extend_from_slice(src);
                s.pushed_bytes += std::mem::size_of_val(src);
            }
            #[inline]
            fn copy_out(s: &Stack, start: usize, dst: &mut [Self]) {
                dst.copy_from_slice(&s.$lane[start..start + dst.len()]);
            }
            #[inline]
            fn extend_out(s: &Stack, start: usize, len: usize, dst: &mut Vec<Self>) {
                dst.extend_from_slice(&s.$lane[start..start + len]);
            }
        }
    };
}

float_lane!(f64, f64s, u64);
float_lane!(f32, f32s, u32);

/// Integers up to 64 bits: one word, sign- or zero-extended (`as u64` / `as $t` is a
/// lossless round trip for each of these types).
macro_rules! word_lane {
    ($($t:ty),*) => {$(
        impl Saved for $t {}
        impl sealed::Sealed for $t {
            const UNITS: usize = 1;
            const ON_WORD_LANE: bool = true;
            #[inline]
            fn push_on(self, s: &mut Stack) {
                s.push_word(self as u64);
            }
            #[inline]
            #[track_caller]
            fn pop_from(s: &mut Stack) -> Self {
                s.pop_word() as $t
            }
            #[inline]
            fn push_words(self, words: &mut Vec<u64>) {
                words.push(self as u64);
            }
            #[inline]
            #[track_caller]
            fn pop_words(words: &mut Vec<u64>) -> Self {
                match words.pop() {
                    Some(w) => w as $t,
                    None => panic!("{UNDERFLOW}"),
                }
            }
            #[inline]
            fn lane_len(s: &Stack) -> usize {
                s.words.len()
            }
            #[inline]
            fn get(s: &Stack, pos: usize) -> Self {
                s.words[pos] as $t
            }
            #[inline]
            fn truncate_lane(s: &mut Stack, len: usize) {
                s.words.truncate(len);
            }
            #[inline]
            fn reserve_lane(s: &mut Stack, n: usize) {
                s.words.reserve(n);
            }
        }
    )*};
}

word_lane!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// 128-bit integers: two words, low then high.
macro_rules! double_word_lane {
    ($($t:ty),*) => {$(
        impl Saved for $t {}
        impl sealed::Sealed for $t {
            const UNITS: usize = 2;
            const ON_WORD_LANE: bool = true;
            #[inline]
            fn push_on(self, s: &mut Stack) {
                let bits = self as u128;
                s.push_word(bits as u64);
                s.push_word((bits >> 64) as u64);
            }
            #[inline]
            #[track_caller]
            fn pop_from(s: &mut Stack) -> Self {
                if s.words.len() < 2 {
                    panic!("{UNDERFLOW}");
                }
                let hi = s.pop_word();
                let lo = s.pop_word();
                ((u128::from(hi) << 64) | u128::from(lo)) as $t
            }
            #[inline]
            fn push_words(self, words: &mut Vec<u64>) {
                let bits = self as u128;
                words.push(bits as u64);
                words.push((bits >> 64) as u64);
            }
            #[inline]
            #[track_caller]
            fn pop_words(words: &mut Vec<u64>) -> Self {
                match (words.pop(), words.pop()) {
                    (Some(hi), Some(lo)) => ((u128::from(hi) << 64) | u128::from(lo)) as $t,
                    _ => panic!("{UNDERFLOW}"),
                }
            }
            #[inline]
            fn lane_len(s: &Stack) -> usize {
                s.words.len()
            }
            #[inline]
            fn get(s: &Stack, pos: usize) -> Self {
                ((u128::from(s.words[pos + 1]) << 64) | u128::from(s.words[pos])) as $t
            }
            #[inline]
            fn truncate_lane(s: &mut Stack, len: usize) {
                s.words.truncate(len);
            }
            #[inline]
            fn reserve_lane(s: &mut Stack, n: usize) {
                s.words.reserve(2 * n);
            }
        }
    )*};
}

double_word_lane!(i128, u128);

impl Saved for bool {}
impl sealed::Sealed for bool {
    const UNITS: usize = 1;
    const ON_WORD_LANE: bool = false;
    #[inline]
    fn push_on(self, s: &mut Stack) {
        s.push_bit(self);
    }
    #[inline]
    #[track_caller]
    fn pop_from(s: &mut Stack) -> Self {
        s.pop_bit()
    }
    /// As for floats: a `bool` whose type the macro could not see.
    #[inline]
    fn push_words(self, words: &mut Vec<u64>) {
        words.push(u64::from(self));
    }
    #[inline]
    #[track_caller]
    fn pop_words(words: &mut Vec<u64>) -> Self {
        match words.pop() {
            Some(w) => w != 0,
            None => panic!("{UNDERFLOW}"),
        }
    }
    #[inline]
    fn lane_len(s: &Stack) -> usize {
        s.bit_len
    }
    #[inline]
    fn get(s: &Stack, pos: usize) -> Self {
        (s.bits[pos / 64] >> (pos % 64)) & 1 == 1
    }
    #[inline]
    fn truncate_lane(s: &mut Stack, len: usize) {
        s.bit_len = len;
        s.bits.truncate(len.div_ceil(64));
    }
    #[inline]
    fn reserve_lane(s: &mut Stack, n: usize) {
        s.bits
            .reserve((s.bit_len + n).div_ceil(64).saturating_sub(s.bits.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_pushes_fill_the_reservation() {
        let mut s = Stack::new();
        s.reserve::<f64>(2);
        s.reserve::<u64>(4);
        s.push_reserved(1.5_f64);
        s.push_reserved(7_usize);
        s.push_reserved(-3_i128);
        s.push_reserved(2.5_f64);
        assert_eq!(s.bytes_pushed(), 8 + 8 + 16 + 8);
        assert_eq!(s.pop::<f64>(), 2.5);
        assert_eq!(s.pop::<i128>(), -3);
        assert_eq!(s.pop::<usize>(), 7);
        assert_eq!(s.pop::<f64>(), 1.5);
    }

    #[test]
    fn taken_lanes_round_trip() {
        let mut s = Stack::new();
        s.push(0.5_f64);
        s.push(9_u8);
        let mut floats = s.take_floats::<f64>(3);
        let mut words = s.take_words(4);
        floats.push(1.0);
        words.push_int(-2_i64);
        words.push_int(u128::MAX - 1);
        floats.push(2.0);
        s.put_floats(floats);
        s.put_words(words);
        assert_eq!(s.bytes_pushed(), 8 + 8 + 16 + 8 + 16);
        assert_eq!(s.peak_bytes(), 3 * 8 + 2 * 8 + 16);
        let mut floats = s.take_floats::<f64>(0);
        let mut words = s.take_words(0);
        assert_eq!(floats.pop(), 2.0);
        assert_eq!(words.pop_int::<u128>(), u128::MAX - 1);
        assert_eq!(words.pop_int::<i64>(), -2);
        assert_eq!(floats.pop(), 1.0);
        s.put_floats(floats);
        s.put_words(words);
        assert_eq!(s.pop::<u8>(), 9);
        assert_eq!(s.pop::<f64>(), 0.5);
        assert!(s.is_empty());
    }

    #[test]
    fn taken_lane_counts_iterations_at_their_peak() {
        let mut s = Stack::new();
        let mut floats = s.take_floats::<f64>(3);
        for k in 0..4 {
            for j in 0..=k % 3 {
                floats.push(j as f64);
            }
            floats.note_peak();
            for _ in 0..=k % 3 {
                floats.pop();
            }
        }
        s.put_floats(floats);
        assert_eq!(s.bytes_pushed(), 8 * (1 + 2 + 3 + 1));
        assert_eq!(s.peak_bytes(), 8 * 3);
        assert!(s.is_empty());
    }

    /// What a callee's reverse sweep does with the stack it is given.
    fn callee(s: &mut Stack, n: usize) {
        let mut floats = s.take_floats::<f64>(n);
        for k in 0..n {
            floats.push(k as f64);
        }
        s.put_floats(floats);
        s.push(n);
        assert_eq!(s.pop::<usize>(), n);
        let mut floats = s.take_floats::<f64>(0);
        for k in (0..n).rev() {
            assert_eq!(floats.pop(), k as f64);
        }
        s.put_floats(floats);
    }

    #[test]
    fn callees_use_the_stack_while_its_lanes_are_out() {
        let mut s = Stack::new();
        s.push(0.25_f64);
        let mut floats = s.take_floats::<f64>(2);
        let mut words = s.take_words(2);
        floats.push(1.0);
        words.push_int(5_usize);
        callee(&mut s, 3);
        floats.push(2.0);
        callee(&mut s, 4);
        let capacity = s.f64s.capacity();
        assert!(capacity >= 4, "the callee's memory stays as the spare");
        s.put_floats(floats);
        s.put_words(words);
        assert_eq!(s.spare_f64s.capacity(), capacity);
        assert_eq!(s.bytes_pushed(), 8 + 2 * 8 + 8 + (3 + 1 + 4 + 1) * 8);
        // Held at the peak: the first value, the lanes' two floats and one word,
        // and the larger callee's four floats and one word.
        assert_eq!(s.peak_bytes(), 8 + 2 * 8 + 8 + 4 * 8 + 8);
        let mut floats = s.take_floats::<f64>(0);
        assert_eq!(s.f64s.capacity(), capacity, "the spare comes back");
        assert_eq!(floats.pop(), 2.0);
        assert_eq!(floats.pop(), 1.0);
        s.put_floats(floats);
        assert_eq!(s.pop::<usize>(), 5);
        assert_eq!(s.pop::<f64>(), 0.25);
        assert!(s.is_empty());
    }

    #[test]
    fn slices_in_lanes_and_reserved_room() {
        let mut s = Stack::new();
        s.reserve::<f64>(3);
        s.push_slice_reserved(&[1.0_f64, 2.0, 3.0]);
        let mut floats = s.take_floats::<f64>(2);
        floats.push_slice(&[4.0, 5.0]);
        s.put_floats(floats);
        assert_eq!(s.bytes_pushed(), 5 * 8);
        let mut floats = s.take_floats::<f64>(0);
        let mut two = vec![0.0; 2];
        floats.pop_slice_into(&mut two);
        assert_eq!(two, [4.0, 5.0]);
        s.put_floats(floats);
        let mut three = [0.0; 3];
        s.pop_slice_reserved(&mut three);
        assert_eq!(three, [1.0, 2.0, 3.0]);
        assert!(s.is_empty());
    }

    #[test]
    fn lane_tail_reads_what_pops_would() {
        let mut s = Stack::new();
        let mut floats = s.take_floats::<f64>(5);
        for v in [1.0, 2.0, 3.0, 4.0, 5.0] {
            floats.push(v);
        }
        // A reverse loop over 0..3 would pop 5, 4, 3 at trips 2, 1, 0.
        let tail = floats.tail(3);
        let by_trip: Vec<f64> = (0..3).rev().map(|j| tail[j]).collect();
        assert_eq!(by_trip, [5.0, 4.0, 3.0]);
        floats.drop_tail(3);
        assert_eq!(floats.pop(), 2.0);
        assert_eq!(floats.pop(), 1.0);
        s.put_floats(floats);
        assert!(s.is_empty());
    }

    #[test]
    #[should_panic(expected = "underflow")]
    fn lane_tail_beyond_the_lane_panics() {
        let mut s = Stack::new();
        let mut floats = s.take_floats::<f64>(1);
        floats.push(1.0);
        let _ = floats.tail(2);
    }

    #[test]
    #[should_panic(expected = "underflow")]
    fn lane_drop_tail_beyond_the_lane_panics() {
        let mut s = Stack::new();
        let mut floats = s.take_floats::<f64>(0);
        floats.drop_tail(1);
    }

    #[test]
    #[should_panic(expected = "reservation exceeded")]
    fn slice_push_without_room_panics() {
        let mut s = Stack::new();
        let mut floats = s.take_floats::<f64>(1);
        // `Vec::reserve` may make a little more room than asked for.
        floats.push_slice(&[1.0; 64]);
    }

    #[test]
    #[should_panic(expected = "underflow")]
    fn slice_pop_beyond_the_lane_panics() {
        let mut s = Stack::new();
        s.push(1.0_f64);
        s.pop_slice_reserved(&mut [0.0_f64; 2]);
    }

    #[test]
    #[should_panic(expected = "reservation exceeded")]
    fn lane_push_without_room_panics() {
        let mut s = Stack::new();
        let mut words = s.take_words(0);
        words.push_int(1_u128);
    }

    #[test]
    #[should_panic(expected = "reservation exceeded")]
    fn reserved_push_without_room_panics() {
        let mut s = Stack::new();
        s.push_reserved(1.0_f64);
    }

    fn round_trip<T: Saved + PartialEq + fmt::Debug>(values: &[T]) {
        let mut s = Stack::new();
        for &v in values {
            s.push(v);
        }
        for &v in values.iter().rev() {
            assert_eq!(s.pop::<T>(), v);
        }
        assert!(s.is_empty());
    }

    #[test]
    fn round_trips_every_type() {
        round_trip(&[0.0, -0.0, 1.5, f64::INFINITY, f64::MIN_POSITIVE, f64::MAX]);
        round_trip(&[0.0_f32, -2.5, f32::MAX, f32::NEG_INFINITY]);
        round_trip(&[true, false, false, true]);
        round_trip(&[i8::MIN, -1, 0, i8::MAX]);
        round_trip(&[i16::MIN, -1, 0, i16::MAX]);
        round_trip(&[i32::MIN, -1, 0, i32::MAX]);
        round_trip(&[i64::MIN, -1, 0, i64::MAX]);
        round_trip(&[isize::MIN, -1, 0, isize::MAX]);
        round_trip(&[i128::MIN, -1, 0, i128::MAX]);
        round_trip(&[u8::MAX, 0, 1]);
        round_trip(&[u16::MAX, 0, 1]);
        round_trip(&[u32::MAX, 0, 1]);
        round_trip(&[u64::MAX, 0, 1]);
        round_trip(&[usize::MAX, 0, 1]);
        round_trip(&[u128::MAX, 0, 1, 1 << 100]);
    }

    #[test]
    fn nan_payload_survives() {
        let mut s = Stack::new();
        let nan = f64::from_bits(0x7ff8_0000_dead_beef);
        s.push(nan);
        assert_eq!(s.pop::<f64>().to_bits(), nan.to_bits());
    }

    #[test]
    fn interleaved_types_use_separate_lanes() {
        let mut s = Stack::new();
        s.push(1.0_f64);
        s.push(2_i32);
        s.push(3.0_f32);
        s.push_bit(true);
        s.push(-4_i128);
        assert_eq!(s.pop::<i128>(), -4);
        assert!(s.pop_bit());
        assert_eq!(s.pop::<f32>(), 3.0);
        assert_eq!(s.pop::<i32>(), 2);
        assert_eq!(s.pop::<f64>(), 1.0);
        assert!(s.is_empty());
    }

    #[test]
    fn bits_pack_across_words() {
        let pattern = |i: usize| (i * 7 + i / 3) % 5 < 2;
        for n in [1, 63, 64, 65, 127, 128, 129, 300] {
            let mut s = Stack::new();
            for i in 0..n {
                s.push_bit(pattern(i));
            }
            assert_eq!(s.bits.len(), n.div_ceil(64));
            assert_eq!(s.bytes_pushed(), n.div_ceil(8));
            for i in (0..n).rev() {
                assert_eq!(s.pop_bit(), pattern(i), "n = {n}, i = {i}");
            }
            assert!(s.is_empty());
            assert!(s.bits.is_empty());
        }
    }

    #[test]
    fn bits_reused_after_partial_pop() {
        let mut s = Stack::new();
        for _ in 0..70 {
            s.push_bit(true);
        }
        for _ in 0..10 {
            s.pop_bit();
        }
        for _ in 0..10 {
            s.push_bit(false);
        }
        for _ in 0..10 {
            assert!(!s.pop_bit());
        }
        for _ in 0..60 {
            assert!(s.pop_bit());
        }
        assert!(s.is_empty());
    }

    #[test]
    fn slices_round_trip() {
        let mut s = Stack::new();
        let a = [1.0, 2.0, 3.0];
        let b = [7_i64, -8];
        let c: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        let d = [u128::MAX, 5];
        let e = [0.5_f32; 4];
        s.push_slice(&a);
        s.push(9_u8);
        s.push_slice(&b);
        s.push_slice(&c);
        s.push_slice(&d);
        s.push_slice::<f64>(&[]);
        s.push_slice(&e);

        let mut e2 = [0.0_f32; 4];
        s.peek_slice_into(&mut e2);
        assert_eq!(e2, e);
        s.pop_slice_into(&mut e2);
        assert_eq!(e2, e);
        let mut empty: Vec<f64> = vec![1.0];
        s.pop_vec_into(&mut empty);
        assert!(empty.is_empty());
        let mut d2 = [0_u128; 2];
        s.peek_slice_into(&mut d2);
        assert_eq!(d2, d);
        s.pop_slice_into(&mut d2);
        assert_eq!(d2, d);
        let mut c2: Vec<bool> = Vec::new();
        s.pop_vec_into(&mut c2);
        assert_eq!(c2, c);
        let mut b2 = [0_i64; 2];
        s.peek_slice_into(&mut b2);
        assert_eq!(b2, b);
        let mut b3: Vec<i64> = Vec::with_capacity(10);
        s.pop_vec_into(&mut b3);
        assert_eq!(b3, b);
        assert_eq!(s.pop::<u8>(), 9);
        let mut a2 = [0.0; 3];
        s.pop_slice_into(&mut a2);
        assert_eq!(a2, a);
        assert!(s.is_empty());
    }

    #[test]
    fn byte_counting() {
        let mut s = Stack::new();
        s.push(1.0_f64);
        s.push(1.0_f32);
        s.push(1_u8);
        s.push(1_i128);
        s.push_slice(&[1.0_f64; 3]);
        s.push_bit(true);
        assert_eq!(s.bytes_pushed(), 8 + 4 + 8 + 16 + (24 + 8) + 1);
        let mut buf = [0.0; 3];
        s.pop_slice_into(&mut buf);
        assert_eq!(s.bytes_pushed(), 8 + 4 + 8 + 16 + (24 + 8) + 1);
    }

    #[test]
    #[should_panic(expected = "autodiff stack underflow (internal error, please report)")]
    fn underflow_panics() {
        let mut s = Stack::new();
        s.push(1.0_f32);
        let _ = s.pop::<f64>();
    }

    #[test]
    #[should_panic(expected = "autodiff stack underflow (internal error, please report)")]
    fn bit_underflow_panics() {
        Stack::new().pop_bit();
    }

    #[test]
    #[should_panic(expected = "autodiff stack underflow (internal error, please report)")]
    fn slice_underflow_panics() {
        let mut s = Stack::new();
        s.push(3_u64);
        s.push(1.0_f64);
        let mut dst = [0.0; 3];
        s.pop_slice_into(&mut dst);
    }

    #[test]
    #[should_panic(expected = "does not match")]
    fn slice_length_mismatch_panics() {
        let mut s = Stack::new();
        s.push_slice(&[1.0_f64, 2.0]);
        let mut dst = [0.0; 3];
        s.pop_slice_into(&mut dst);
    }

    #[test]
    fn nested_guards_are_independent_and_reused() {
        let mut outer = Stack::acquire();
        outer.push(1.0_f64);
        {
            let mut inner = Stack::acquire();
            assert!(inner.is_empty());
            inner.push(2.0_f64);
            inner.push(3.0_f64);
            assert_eq!(inner.bytes_pushed(), 16);
        }
        assert_eq!(last_bytes_pushed(), 16);
        assert_eq!(outer.pop::<f64>(), 1.0);
        drop(outer);
        assert_eq!(last_bytes_pushed(), 8);

        // The released stacks come back empty, with their capacity.
        let a = Stack::acquire();
        let b = Stack::acquire();
        assert!(a.is_empty() && b.is_empty());
        assert_eq!(a.bytes_pushed(), 0);
        assert!(a.f64s.capacity() > 0 || b.f64s.capacity() > 0);
    }

    #[test]
    fn guard_dropped_while_unwinding_returns_its_stack() {
        let result = std::panic::catch_unwind(|| {
            let mut g = Stack::acquire();
            g.push(1_u32);
            panic!("boom");
        });
        assert!(result.is_err());
        assert_eq!(last_bytes_pushed(), 8);
        assert!(Stack::acquire().is_empty());
    }

    #[test]
    fn guards_are_per_thread() {
        let mut g = Stack::acquire();
        g.push(1.0_f64);
        std::thread::spawn(|| {
            let s = Stack::acquire();
            assert!(s.is_empty());
        })
        .join()
        .unwrap();
        assert_eq!(g.pop::<f64>(), 1.0);
    }
}

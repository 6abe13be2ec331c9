// Loading the slices of a series: the one on screen first, then its neighbours outward,
// a few at a time, into a memory cache bounded in bytes (never Web Storage: these are
// patient images).

export class SliceLoader {
  /**
   * fetchSlice(index, signal) → Promise of {values: Float32Array, …}.
   * onChange() is called whenever a slice finishes loading or fails.
   */
  constructor(count, fetchSlice, { concurrency = 3, radius = 32, maxBytes = 768 * 2 ** 20,
                                   onChange = () => {} } = {}) {
    this.count = count;
    this.fetchSlice = fetchSlice;
    this.concurrency = concurrency;
    this.radius = radius;
    this.maxBytes = maxBytes;
    this.onChange = onChange;
    this.cache = new Map();
    this.failures = new Map();
    this.inflight = new Map();
    this.waiters = new Map();
    this.bytes = 0;
    this.center = 0;
    this.controller = new AbortController();
  }

  cached(index) {
    return this.cache.get(index);
  }

  failure(index) {
    return this.failures.get(index);
  }

  get loaded() {
    return this.cache.size;
  }

  get pending() {
    return this.inflight.size;
  }

  // Resolves with the slice (or rejects with its error), loading it next if needed.
  get(index) {
    if (this.cache.has(index)) return Promise.resolve(this.cache.get(index));
    if (this.failures.has(index)) return Promise.reject(this.failures.get(index));
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(index) || [];
      list.push({ resolve, reject });
      this.waiters.set(index, list);
      this.focus(index);
    });
  }

  focus(index) {
    this.center = index;
    this.pump();
  }

  *wanted() {
    for (let distance = 0; distance <= this.radius; distance += 1) {
      for (const index of distance ? [this.center + distance, this.center - distance]
        : [this.center]) {
        if (index >= 0 && index < this.count) yield index;
      }
    }
  }

  pump() {
    if (this.controller.signal.aborted) return;
    for (const index of this.wanted()) {
      if (this.inflight.size >= this.concurrency) return;
      if (this.cache.has(index) || this.failures.has(index) || this.inflight.has(index)) continue;
      this.start(index);
    }
  }

  start(index) {
    const task = this.fetchSlice(index, this.controller.signal).then((slice) => {
      this.cache.set(index, slice);
      this.bytes += slice.values.byteLength;
      this.evict();
      this.settle(index, (waiter) => waiter.resolve(slice));
    }, (error) => {
      if (error.name === "AbortError") return;
      this.failures.set(index, error);
      this.settle(index, (waiter) => waiter.reject(error));
    }).finally(() => {
      this.inflight.delete(index);
      if (!this.controller.signal.aborted) {
        this.onChange();
        this.pump();
      }
    });
    this.inflight.set(index, task);
  }

  settle(index, action) {
    for (const waiter of this.waiters.get(index) || []) action(waiter);
    this.waiters.delete(index);
  }

  // Over budget: drop the slices farthest from the one on screen.
  evict() {
    if (this.bytes <= this.maxBytes) return;
    const far = [...this.cache.keys()].sort((a, b) =>
      Math.abs(b - this.center) - Math.abs(a - this.center));
    for (const index of far) {
      if (this.bytes <= this.maxBytes || Math.abs(index - this.center) <= 1) break;
      this.bytes -= this.cache.get(index).values.byteLength;
      this.cache.delete(index);
    }
  }

  abort() {
    this.controller.abort();
    this.cache.clear();
    this.waiters.clear();
    this.bytes = 0;
  }
}

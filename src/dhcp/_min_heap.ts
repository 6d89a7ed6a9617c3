/**
 * @module
 * A binary min-heap of (key, value) number pairs, ties broken by value. Used
 * for "oldest reusable address first" and "lowest returned address first".
 * Private to src/dhcp. Pure.
 */
export class MinHeap {
  #keys: number[] = [];
  #vals: number[] = [];

  get size(): number {
    return this.#keys.length;
  }

  push(key: number, value: number): void {
    const k = this.#keys;
    const v = this.#vals;
    let i = k.length;
    k.push(key);
    v.push(value);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  /** The smallest pair, or undefined when empty. */
  peek(): { key: number; value: number } | undefined {
    return this.#keys.length === 0 ? undefined : { key: this.#keys[0]!, value: this.#vals[0]! };
  }

  pop(): { key: number; value: number } | undefined {
    const top = this.peek();
    if (top === undefined) return undefined;
    const lastK = this.#keys.pop()!;
    const lastV = this.#vals.pop()!;
    if (this.#keys.length > 0) {
      this.#keys[0] = lastK;
      this.#vals[0] = lastV;
      this.#siftDown(0);
    }
    return top;
  }

  #less(a: number, b: number): boolean {
    const ka = this.#keys[a]!;
    const kb = this.#keys[b]!;
    return ka < kb || (ka === kb && this.#vals[a]! < this.#vals[b]!);
  }

  #swap(a: number, b: number): void {
    const k = this.#keys;
    const v = this.#vals;
    [k[a], k[b]] = [k[b]!, k[a]!];
    [v[a], v[b]] = [v[b]!, v[a]!];
  }

  #siftDown(i: number): void {
    const n = this.#keys.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(l, m)) m = l;
      if (r < n && this.#less(r, m)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}

//! Generates random programs from the differentiable subset for the property test
//! `tests/generated.rs`: each program is emitted twice from the same syntax tree,
//! once as an `f64` function under `#[differentiate]` and once over `num_dual::Dual64`
//! as the independent oracle. Two programs in three also get a generated helper
//! that writes the program's array through `&mut`, called once or in a loop, and
//! one program in two a read-only helper (a joint call), handed either a whole
//! array or a scratch copy of a window of one (`win[j] = v[off + j]`, the copy the
//! macro replaces by the window itself), and one in two a scalar helper (the
//! logistic idiom, or a block) whose results a loop stores into an array. Half
//! the read-only helpers hold a loop whose iterations meet only in one sum. The
//! generator is seeded
//! (`AUTODIFF_PROGRAM_SEED` overrides the default) so that a failure names a
//! reproducible program.

use std::fmt::Write;

const PROGRAMS: usize = 32;
const INPUTS: usize = 4;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn constant(&mut self) -> f64 {
        (self.below(19) as f64 - 9.0) / 4.0 + 0.125
    }
}

/// An expression of the generated subset.
enum Expr {
    Scalar(usize),
    Input(Index),
    Local(Index),
    Const(f64),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    /// `a / (1 + b*b)`: division that cannot blow up.
    SafeDiv(Box<Expr>, Box<Expr>),
    Unary(&'static str, Box<Expr>),
    /// `(a*a + 1).sqrt()`, `(a*a + 1).ln()` and `(a*a + 1).recip()`; `exp` is
    /// the bounded `(-(a*a)).exp()`. `recip`, `exp` and `sqrt` have rules that
    /// read their own result.
    Shifted(&'static str, Box<Expr>),
    Max(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy)]
enum Index {
    Fixed(usize),
    /// The innermost loop index (loops run over `0..INPUTS`).
    LoopVar,
}

enum Stmt {
    Assign(usize, Expr),
    /// `a = a * 0.5 + tanh(e)`: keeps loop-carried values bounded.
    Damped(usize, Expr),
    Store(Index, Expr),
    If(Expr, Expr, Vec<Stmt>, Vec<Stmt>),
    For(usize, Vec<Stmt>),
    /// A loop whose iterations meet only in one sum, with a scratch array written
    /// before it is read (read back at constant indices too) and an integer counter
    /// (`idx += 1`): the shape the macro preaccumulates. `a{k}` takes the sum.
    /// In a program with a read-only helper the sum also takes
    /// `{program}_read(&w, a{k})`, a joint call reversed where it runs.
    Reduce {
        id: usize,
        trips: usize,
        k: usize,
        /// `a{k}` takes the sum itself, not its `tanh`: nothing after the loop
        /// reads the sum's value, so a value-free reverse must still keep the
        /// loop for its additions into the adjoints.
        linear: bool,
        exprs: [Expr; 3],
    },
    /// `a{dst} = {program}_step(&mut v, x, a{arg})`: a call of the program's own
    /// generated helper, which writes `v` through `&mut`; with a constant instead
    /// of `a{arg}` when `arg` is `None` (the helper's core for constant scalars),
    /// and with the constant array `c` instead of `x` when `data` (an array the
    /// program does not differentiate: the helper gets no adjoint for it).
    Call {
        dst: usize,
        arg: Option<usize>,
        data: bool,
    },
    /// `a{dst} = a{dst} * 0.5 + {program}_read(&win, a{arg}).tanh()`: a call of the
    /// program's read-only helper (reversed jointly). `win` is a scratch copy of
    /// `READ_WIDTH` elements of `source` starting at `offset` (the macro passes
    /// the window itself to the reverse sweep where it can), or, without an
    /// offset, the whole array (the helper reads only its first `READ_WIDTH`).
    Read {
        id: usize,
        dst: usize,
        arg: usize,
        source: &'static str,
        offset: Option<Index>,
    },
    /// A loop storing calls of the program's scalar helper `{program}_gate` into
    /// two bands of a fresh array `g{id}` (`g[j] = gate(e1 + x[j])`,
    /// `g[INPUTS + j] = gate(e2 * x[j])`), then `a{k}` mixing four of them: the
    /// macro hands each stored result back to the helper's reverse
    /// (`__unrecord_v`). Top level only (it declares `g{id}`).
    Gates {
        id: usize,
        k: usize,
        exprs: [Expr; 2],
    },
    /// `m = x[0]; for j in 1..width { m = m.max(x[j]) }` (or `min`, `x[j].max(m)`,
    /// or the branch forms `if x[j] > m { m = x[j] }`, `<`, `>=`, `<=`), then `a{k}`
    /// takes `m`: a running extremum of a parameter, whose reverse sweep scans for
    /// the element instead of restoring every running value. Or of the local copy
    /// `v` (`local`), which the scan may read only where nothing has written it
    /// since the loop.
    Extremum {
        id: usize,
        k: usize,
        form: u64,
        local: bool,
    },
}

/// The program's scalar helper `{program}_gate(a: f64) -> f64`.
enum Gate {
    /// The logistic idiom `1.0 / (1.0 + (-(a * c1 + c2)).exp())`: its reverse
    /// needs only its result, so it keeps nothing when handed it.
    Logistic(f64, f64),
    /// A block over scalars and local arrays made from `a`: its reverse needs
    /// more than its result.
    Block(Vec<Stmt>),
}

/// The length of the arrays the read-only helper takes when handed a window.
const READ_WIDTH: usize = 2;

struct Gen {
    rng: Rng,
    in_loop: bool,
}

impl Gen {
    fn index(&mut self) -> Index {
        if self.in_loop && self.rng.below(2) == 0 {
            Index::LoopVar
        } else {
            Index::Fixed(self.rng.below(INPUTS as u64) as usize)
        }
    }

    fn expr(&mut self, depth: usize) -> Expr {
        if depth == 0 || self.rng.below(4) == 0 {
            return match self.rng.below(4) {
                0 => Expr::Scalar(self.rng.below(3) as usize),
                1 => Expr::Input(self.index()),
                2 => Expr::Local(self.index()),
                _ => Expr::Const(self.rng.constant()),
            };
        }
        let sub = |gen: &mut Gen| Box::new(gen.expr(depth - 1));
        match self.rng.below(9) {
            0 => Expr::Add(sub(self), sub(self)),
            1 => Expr::Sub(sub(self), sub(self)),
            2 | 3 => Expr::Mul(sub(self), sub(self)),
            4 => Expr::SafeDiv(sub(self), sub(self)),
            5 => {
                let op = ["sin", "cos", "tanh", "atan"][self.rng.below(4) as usize];
                Expr::Unary(op, sub(self))
            }
            6 => {
                let op = ["sqrt", "ln", "recip", "exp"][self.rng.below(4) as usize];
                Expr::Shifted(op, sub(self))
            }
            7 => Expr::Max(sub(self), sub(self)),
            _ => Expr::Unary("tanh", sub(self)),
        }
    }

    /// Puts `stmt` into `body` at a random position, in a loop of 1 to 3 trips one
    /// time in two if `in_loop_sometimes`.
    fn insert(&mut self, body: &mut Vec<Stmt>, stmt: Stmt, in_loop_sometimes: bool) {
        let stmt = if in_loop_sometimes && self.rng.below(2) == 0 {
            Stmt::For(1 + self.rng.below(3) as usize, vec![stmt])
        } else {
            stmt
        };
        let at = self.rng.below(body.len() as u64 + 1) as usize;
        body.insert(at, stmt);
    }

    fn block(&mut self, len: usize, depth: usize) -> Vec<Stmt> {
        (0..len).map(|_| self.stmt(depth)).collect()
    }

    fn stmt(&mut self, depth: usize) -> Stmt {
        let choice = if depth == 0 {
            self.rng.below(3)
        } else {
            self.rng.below(5)
        };
        match choice {
            0 => Stmt::Assign(self.rng.below(3) as usize, self.expr(3)),
            1 => Stmt::Damped(self.rng.below(3) as usize, self.expr(3)),
            2 => Stmt::Store(self.index(), self.expr(2)),
            3 => {
                let (left, right) = (self.expr(2), self.expr(2));
                let then_len = 1 + self.rng.below(2) as usize;
                let else_len = self.rng.below(2) as usize;
                Stmt::If(
                    left,
                    right,
                    self.block(then_len, depth - 1),
                    self.block(else_len, depth - 1),
                )
            }
            _ => {
                let was = self.in_loop;
                self.in_loop = true;
                let len = 1 + self.rng.below(3) as usize;
                let body = self.block(len, depth - 1);
                self.in_loop = was;
                Stmt::For(1 + self.rng.below(3) as usize, body)
            }
        }
    }
}

/// Renders a program either as plain `f64` code or as `Dual64` code.
struct Render {
    dual: bool,
    /// The program's name, for its helper's.
    name: String,
    /// The length of the arrays indexed (`x`, `v`): `INPUTS`, or `READ_WIDTH` in
    /// the read-only helper.
    width: usize,
    /// Whether the program has a read-only helper: its preaccumulable loops
    /// then also add the helper's value of their scratch array to their sum
    /// (a joint call the macro reverses where it runs).
    reader: bool,
}

impl Render {
    fn index(&self, index: Index, loop_depth: usize) -> String {
        let width = self.width;
        match index {
            Index::Fixed(k) => (k % width).to_string(),
            Index::LoopVar if loop_depth > 0 => format!("(i{} % {width})", loop_depth - 1),
            Index::LoopVar => "0".into(),
        }
    }

    fn constant(&self, c: f64) -> String {
        if self.dual {
            format!("D::from({c:?})")
        } else {
            format!("({c:?}_f64)")
        }
    }

    fn expr(&self, expr: &Expr, loops: usize) -> String {
        match expr {
            Expr::Scalar(k) => format!("a{k}"),
            Expr::Input(index) => format!("x[{}]", self.index(*index, loops)),
            Expr::Local(index) => format!("v[{}]", self.index(*index, loops)),
            Expr::Const(c) => self.constant(*c),
            Expr::Add(a, b) => format!("({} + {})", self.expr(a, loops), self.expr(b, loops)),
            Expr::Sub(a, b) => format!("({} - {})", self.expr(a, loops), self.expr(b, loops)),
            Expr::Mul(a, b) => format!("({} * {})", self.expr(a, loops), self.expr(b, loops)),
            Expr::SafeDiv(a, b) => {
                let b = self.expr(b, loops);
                format!(
                    "({} / ({} + {b} * {b}))",
                    self.expr(a, loops),
                    self.constant(1.0)
                )
            }
            Expr::Unary(op, a) => format!("{}.{op}()", self.expr(a, loops)),
            Expr::Shifted("exp", a) => {
                let a = self.expr(a, loops);
                format!("(-({a} * {a})).exp()")
            }
            Expr::Shifted(op, a) => {
                let a = self.expr(a, loops);
                format!("({a} * {a} + {}).{op}()", self.constant(1.0))
            }
            Expr::Max(a, b) => {
                let (a, b) = (self.expr(a, loops), self.expr(b, loops));
                if self.dual {
                    // Ties go to the first argument, as the runtime's `max` rule does.
                    format!(
                        "{{ let l = {a}; let r = {b}; if l.re() >= r.re() {{ l }} else {{ r }} }}"
                    )
                } else {
                    format!("{a}.max({b})")
                }
            }
        }
    }

    fn block(&self, stmts: &[Stmt], loops: usize, out: &mut String) {
        for stmt in stmts {
            match stmt {
                Stmt::Call { dst, arg, data } => {
                    let suffix = if self.dual { "_dual" } else { "" };
                    let arg = match arg {
                        Some(k) => format!("a{k}"),
                        None => self.constant(0.75),
                    };
                    let array = if *data { "&c" } else { "x" };
                    let _ = writeln!(
                        out,
                        "a{dst} = {}_step{suffix}(&mut v, {array}, {arg});",
                        self.name
                    );
                }
                Stmt::Read {
                    id,
                    dst,
                    arg,
                    source,
                    offset,
                } => {
                    let suffix = if self.dual { "_dual" } else { "" };
                    let array = match offset {
                        Some(offset) => {
                            // Offsets stay within `0..=INPUTS - READ_WIDTH`.
                            let start = match offset {
                                Index::Fixed(k) => (k % (INPUTS - READ_WIDTH + 1)).to_string(),
                                Index::LoopVar if loops > 0 => {
                                    format!("(i{} % {})", loops - 1, INPUTS - READ_WIDTH + 1)
                                }
                                Index::LoopVar => "0".into(),
                            };
                            let _ = writeln!(
                                out,
                                "for jw{id} in 0..{READ_WIDTH} {{ win{id}[jw{id}] = {source}[{start} + jw{id}]; }}"
                            );
                            format!("&win{id}")
                        }
                        None if *source == "x" => "x".into(),
                        None => format!("&{source}"),
                    };
                    let _ = writeln!(
                        out,
                        "a{dst} = a{dst} * {} + {}_read{suffix}({array}, a{arg}).tanh();",
                        self.constant(0.5),
                        self.name
                    );
                }
                Stmt::Gates { id, k, exprs } => {
                    let suffix = if self.dual { "_dual" } else { "" };
                    let name = &self.name;
                    let [e1, e2] = exprs.each_ref().map(|e| self.expr(e, loops));
                    let (zero, half) = (self.constant(0.0), self.constant(0.5));
                    let _ = writeln!(
                        out,
                        "let mut g{id} = vec![{zero}; {}];\n\
                         for jg{id} in 0..{INPUTS} {{\n\
                         g{id}[jg{id}] = {name}_gate{suffix}({e1} + x[jg{id}]);\n\
                         g{id}[{INPUTS} + jg{id}] = {name}_gate{suffix}({e2} * x[jg{id}]);\n\
                         }}\n\
                         a{k} = a{k} * {half} + (g{id}[0] * g{id}[{}] + g{id}[2] - g{id}[{}]).tanh();",
                        2 * INPUTS,
                        INPUTS + 1,
                        INPUTS + 3,
                    );
                }
                Stmt::Extremum { id, k, form, local } => {
                    let width = self.width;
                    let array = if *local { "v" } else { "x" };
                    let (m, element) = (format!("m{id}"), format!("{array}[je{id}]"));
                    let step = if self.dual {
                        // Ties keep `m` in the first four forms (`m.max(t)`, `>`),
                        // and go to the element in the others (`t.max(m)`, `>=`).
                        let compare = match (form % 2, *form < 4) {
                            (0, true) => ">",
                            (_, true) => "<",
                            (0, false) => ">=",
                            _ => "<=",
                        };
                        format!("if {element}.re() {compare} {m}.re() {{ {m} = {element}; }}")
                    } else {
                        match form {
                            0 => format!("{m} = {m}.max({element});"),
                            1 => format!("{m} = {m}.min({element});"),
                            2 => format!("if {element} > {m} {{ {m} = {element}; }}"),
                            3 => format!("if {element} < {m} {{ {m} = {element}; }}"),
                            4 => format!("{m} = {element}.max({m});"),
                            5 => format!("{m} = {element}.min({m});"),
                            6 => format!("if {element} >= {m} {{ {m} = {element}; }}"),
                            _ => format!("if {element} <= {m} {{ {m} = {element}; }}"),
                        }
                    };
                    let _ = writeln!(
                        out,
                        "let mut {m} = {array}[0];\n\
                         for je{id} in 1..{width} {{ {step} }}\n\
                         a{k} = a{k} * {} + {m}.tanh();",
                        self.constant(0.5),
                    );
                }
                Stmt::Assign(k, e) => {
                    let _ = writeln!(out, "a{k} = {};", self.expr(e, loops));
                }
                Stmt::Damped(k, e) => {
                    let _ = writeln!(
                        out,
                        "a{k} = a{k} * {} + {}.tanh();",
                        self.constant(0.5),
                        self.expr(e, loops)
                    );
                }
                Stmt::Store(index, e) => {
                    let _ = writeln!(
                        out,
                        "v[{}] = {};",
                        self.index(*index, loops),
                        self.expr(e, loops)
                    );
                }
                Stmt::If(l, r, then_block, else_block) => {
                    let (l, r) = (self.expr(l, loops), self.expr(r, loops));
                    if self.dual {
                        let _ = writeln!(out, "if {l}.re() > {r}.re() {{");
                    } else {
                        let _ = writeln!(out, "if {l} > {r} {{");
                    }
                    self.block(then_block, loops, out);
                    out.push_str("} else {\n");
                    self.block(else_block, loops, out);
                    out.push_str("}\n");
                }
                Stmt::For(trips, body) => {
                    let _ = writeln!(out, "for i{loops} in 0..{trips} {{");
                    self.block(body, loops + 1, out);
                    out.push_str("}\n");
                }
                Stmt::Reduce {
                    id,
                    trips,
                    k,
                    linear,
                    exprs,
                } => {
                    let taken = if *linear {
                        format!("acc{id}")
                    } else {
                        format!("acc{id}.tanh()")
                    };
                    let [e1, e2, e3] = exprs.each_ref().map(|e| self.expr(e, loops));
                    let fused = if self.reader {
                        let suffix = if self.dual { "_dual" } else { "" };
                        format!("acc{id} += {}_read{suffix}(&w{id}, a{k});\n", self.name)
                    } else {
                        String::new()
                    };
                    let (zero, half, tenth) =
                        (self.constant(0.0), self.constant(0.5), self.constant(0.1));
                    let float = if self.dual { "D" } else { "f64" };
                    let width = self.width;
                    let j_float = if self.dual {
                        format!("D::from(j{id} as f64)")
                    } else {
                        format!("(j{id} as f64)")
                    };
                    let max = if self.dual {
                        format!("{{ let l = top{id}; let r = w{id}[j{id}]; if l.re() >= r.re() {{ l }} else {{ r }} }}")
                    } else {
                        format!("top{id}.max(w{id}[j{id}])")
                    };
                    let _ = writeln!(
                        out,
                        "let mut w{id} = vec![{zero}; 3];\n\
                         let mut acc{id}: {float} = {zero};\n\
                         for r{id} in 0..{trips} {{\n\
                         let mut idx{id} = r{id};\n\
                         for j{id} in 0..3 {{\n\
                         w{id}[j{id}] = {e1} * x[idx{id} % {width}] + {j_float} * {tenth};\n\
                         idx{id} += 1;\n\
                         }}\n\
                         let mut top{id} = w{id}[0];\n\
                         for j{id} in 1..3 {{\n\
                         top{id} = {max};\n\
                         }}\n\
                         acc{id} += ({e2} - top{id}).tanh() + w{id}[2] * {e3};\n\
                         {fused}\
                         }}\n\
                         a{k} = a{k} * {half} + {taken};"
                    );
                }
            }
        }
    }

    /// The program's helper `{name}_step(v: &mut [f64], x: &[f64], a: f64) -> f64`:
    /// a block over its own scalars, `x` and the caller's `v`.
    fn helper(&self, body: &[Stmt]) -> String {
        self.helper_fn(
            body,
            "step",
            "v: &mut [$F], x: &[$F], a: $F",
            "",
            "",
            "v[0]",
        )
    }

    /// The program's scalar helper `{name}_gate(a: f64) -> f64`.
    fn gate(&self, gate: &Gate) -> String {
        match gate {
            Gate::Logistic(scale, shift) => {
                let name = &self.name;
                let one = self.constant(1.0);
                let (scale, shift) = (self.constant(*scale), self.constant(*shift));
                let body = format!("{one} / ({one} + (-(a * {scale} + {shift})).exp())");
                if self.dual {
                    format!("#[allow(dead_code, clippy::all)]\nfn {name}_gate_dual<D: DualNum<f64> + OracleTanh + Copy>(a: D) -> D {{\n{body}\n}}\n")
                } else {
                    format!("#[differentiate]\n#[allow(dead_code, clippy::all)]\nfn {name}_gate(a: f64) -> f64 {{\n{body}\n}}\n")
                }
            }
            Gate::Block(body) => self.helper_fn(
                body,
                "gate",
                "a: $F",
                &format!("let x = vec![a; {INPUTS}];\n"),
                "let mut v = x.to_vec();\n",
                "v[0] * v[3]",
            ),
        }
    }

    /// The program's read-only helper `{name}_read(x: &[f64], a: f64) -> f64`: a
    /// block over its own scalars, `x` and a local copy `v` of it (`self.width`
    /// is the length of `x`).
    fn reader(&self, body: &[Stmt]) -> String {
        self.helper_fn(
            body,
            "read",
            "x: &[$F], a: $F",
            "",
            "let mut v = x.to_vec();\n",
            "v[0] * x[1]",
        )
    }

    /// `fn {name}_{suffix}({params}) -> $F` (`$F` the float type): `setup`,
    /// scalars `a0`, `a1`, `a2` set from `a` and `x`, then `prelude`, the block,
    /// and `a0 + a1 * a2 + {tail}`.
    fn helper_fn(
        &self,
        body: &[Stmt],
        suffix: &str,
        params: &str,
        setup: &str,
        prelude: &str,
        tail: &str,
    ) -> String {
        let mut out = String::new();
        let name = &self.name;
        let float = if self.dual { "D" } else { "f64" };
        let params = params.replace("$F", float);
        if self.dual {
            let _ = writeln!(out, "#[allow(unused_mut, unused_variables, dead_code, clippy::all)]\nfn {name}_{suffix}_dual<D: DualNum<f64> + OracleTanh + Copy>({params}) -> D {{");
        } else {
            let _ = writeln!(
                out,
                "#[differentiate]\n#[allow(unused_mut, unused_variables, dead_code, clippy::all)]\nfn {name}_{suffix}({params}) -> f64 {{"
            );
        }
        out.push_str(setup);
        let _ = writeln!(out, "let mut a0: {float} = a * {};", self.constant(0.5));
        let _ = writeln!(out, "let mut a1: {float} = x[1] + a;");
        let _ = writeln!(out, "let mut a2: {float} = {};", self.constant(0.25));
        out.push_str(prelude);
        self.block(body, 0, &mut out);
        let _ = writeln!(out, "a0 + a1 * a2 + {tail}\n}}\n");
        if self.dual {
            out = out.replace(".tanh()", ".tanh_exact()");
        }
        out
    }

    fn program(&self, name: &str, body: &[Stmt]) -> String {
        let mut out = String::new();
        let float = if self.dual { "D" } else { "f64" };
        if self.dual {
            let _ = writeln!(out, "#[allow(unused_mut, unused_variables, dead_code, clippy::all)]\nfn {name}_dual<D: DualNum<f64> + OracleTanh + Copy>(x: &[D]) -> D {{");
        } else {
            let _ = writeln!(
                out,
                "#[differentiate(reverse, forward, hvp)]\n#[allow(unused_mut, unused_variables, dead_code, clippy::all)]\nfn {name}(x: &[f64]) -> f64 {{"
            );
        }
        let _ = writeln!(out, "let mut a0: {float} = x[0] * {};", self.constant(0.5));
        let _ = writeln!(out, "let mut a1: {float} = x[1] + x[2];");
        let _ = writeln!(out, "let mut a2: {float} = {};", self.constant(0.25));
        let _ = writeln!(out, "let mut v = x.to_vec();");
        let _ = writeln!(out, "let c = vec![{}; x.len()];", self.constant(0.375));
        for id in window_copies(body) {
            let _ = writeln!(
                out,
                "let mut win{id} = vec![{}; {READ_WIDTH}];",
                self.constant(0.0)
            );
        }
        self.block(body, 0, &mut out);
        let _ = writeln!(out, "a0 + a1 * a2 + v[0] * v[1] + v[2] + v[3].sin()\n}}\n");
        if self.dual {
            // num-dual's own `tanh` loses precision where it saturates (see
            // `OracleTanh` in tests/generated.rs).
            out = out.replace(".tanh()", ".tanh_exact()");
        }
        out
    }
}

/// The ids of the scratch copies the `Read` statements of `body` fill (those
/// with an offset), loops included: each is declared once, before the body.
fn window_copies(body: &[Stmt]) -> Vec<usize> {
    let mut out = Vec::new();
    for stmt in body {
        match stmt {
            Stmt::Read {
                id,
                offset: Some(_),
                ..
            } => out.push(*id),
            Stmt::For(_, inner) => out.extend(window_copies(inner)),
            Stmt::If(_, _, then_block, else_block) => {
                out.extend(window_copies(then_block));
                out.extend(window_copies(else_block));
            }
            _ => {}
        }
    }
    out
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AUTODIFF_PROGRAM_SEED");
    let seed = std::env::var("AUTODIFF_PROGRAM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0FAD);
    let mut gen = Gen {
        rng: Rng(seed),
        in_loop: false,
    };
    let mut out = String::new();
    let _ = writeln!(out, "// Generated by tests/build.rs from seed {seed:#x}.\n");
    let mut table = String::from("pub const PROGRAMS: &[Entry] = &[\n");
    // A second stream decides the preaccumulable loops, so the other statements of
    // every program stay what they were for a given seed.
    let mut reductions = Gen {
        rng: Rng(seed ^ 0x00AC_C0DE),
        in_loop: false,
    };
    let mut calls = Gen {
        rng: Rng(seed ^ 0x0CA1_1ED0),
        in_loop: false,
    };
    // A fourth decides which calls pass data instead of `x`.
    let mut data = Rng(seed ^ 0x0DA7_A000);
    // A fifth decides the read-only helpers and their calls.
    let mut reads = Gen {
        rng: Rng(seed ^ 0x00EA_D0E1),
        in_loop: false,
    };
    // A seventh puts a loop whose iterations meet only in one sum into the
    // read-only helper: a loop differentiated as it runs, inside a joint callee
    // (whose value-free reverse once dropped it).
    let mut reader_sums = Gen {
        rng: Rng(seed ^ 0x005E_ED07),
        in_loop: false,
    };
    // An eighth puts running maxima and minima of `x` into programs (in a loop
    // or not) and read-only helpers.
    let mut extrema = Gen {
        rng: Rng(seed ^ 0x00E7_7E3A),
        in_loop: false,
    };
    // A sixth decides the scalar helpers whose results are stored into arrays.
    let mut gates = Gen {
        rng: Rng(seed ^ 0x0000_6A7E),
        in_loop: false,
    };
    for k in 0..PROGRAMS {
        let len = 2 + gen.rng.below(4) as usize;
        let mut body = gen.block(len, 2);
        if reductions.rng.below(2) == 0 {
            let at = reductions.rng.below(body.len() as u64 + 1) as usize;
            let reduce = Stmt::Reduce {
                id: k,
                trips: 1 + reductions.rng.below(4) as usize,
                k: reductions.rng.below(3) as usize,
                linear: false,
                exprs: [reductions.expr(2), reductions.expr(2), reductions.expr(2)],
            };
            body.insert(at, reduce);
        }
        let name = format!("program_{k}");
        let render = |dual, width, reader| Render {
            dual,
            name: name.clone(),
            width,
            reader,
        };
        // A third stream decides the calls of a generated helper that writes `v`
        // through `&mut` (split calls), again leaving the other statements as
        // they were.
        if calls.rng.below(3) != 0 {
            let len = 1 + calls.rng.below(3) as usize;
            let helper = calls.block(len, 1);
            for dual in [false, true] {
                out.push_str(&render(dual, INPUTS, false).helper(&helper));
            }
            let call = Stmt::Call {
                dst: calls.rng.below(3) as usize,
                arg: match calls.rng.below(4) {
                    3 => None,
                    k => Some(k as usize),
                },
                data: data.below(3) == 0,
            };
            calls.insert(&mut body, call, true);
        }
        let has_reader = reads.rng.below(2) == 0;
        if has_reader {
            let len = 1 + reads.rng.below(3) as usize;
            let mut reader = reads.block(len, 1);
            if reader_sums.rng.below(2) == 0 {
                // Last, into `a0`, which the helper's result takes linearly:
                // nothing reads the sum's value again.
                let reduce = Stmt::Reduce {
                    id: PROGRAMS + k,
                    trips: 1 + reader_sums.rng.below(4) as usize,
                    k: 0,
                    linear: true,
                    exprs: [
                        reader_sums.expr(2),
                        reader_sums.expr(2),
                        reader_sums.expr(2),
                    ],
                };
                reader.push(reduce);
            }
            if extrema.rng.below(2) == 0 {
                let extremum = Stmt::Extremum {
                    id: PROGRAMS + k,
                    k: extrema.rng.below(3) as usize,
                    form: extrema.rng.below(8),
                    local: extrema.rng.below(2) == 0,
                };
                extrema.insert(&mut reader, extremum, false);
            }
            for dual in [false, true] {
                out.push_str(&render(dual, READ_WIDTH, false).reader(&reader));
            }
            let in_loop = reads.rng.below(2) == 0;
            let window = reads.rng.below(3) != 0;
            let offset = window.then(|| {
                if in_loop && reads.rng.below(2) == 0 {
                    Index::LoopVar
                } else {
                    Index::Fixed(reads.rng.below(INPUTS as u64) as usize)
                }
            });
            let source = if reads.rng.below(2) == 0 { "x" } else { "v" };
            let read = Stmt::Read {
                id: k,
                dst: reads.rng.below(3) as usize,
                arg: reads.rng.below(3) as usize,
                source,
                offset,
            };
            let read = if in_loop {
                Stmt::For(1 + reads.rng.below(3) as usize, vec![read])
            } else {
                read
            };
            let at = reads.rng.below(body.len() as u64 + 1) as usize;
            body.insert(at, read);
        }
        if gates.rng.below(2) == 0 {
            let gate = if gates.rng.below(2) == 0 {
                Gate::Logistic(gates.rng.constant(), gates.rng.constant())
            } else {
                let len = 1 + gates.rng.below(3) as usize;
                Gate::Block(gates.block(len, 1))
            };
            for dual in [false, true] {
                out.push_str(&render(dual, INPUTS, false).gate(&gate));
            }
            let stmt = Stmt::Gates {
                id: k,
                k: gates.rng.below(3) as usize,
                exprs: [gates.expr(2), gates.expr(2)],
            };
            gates.insert(&mut body, stmt, false);
        }
        if extrema.rng.below(2) == 0 {
            let extremum = Stmt::Extremum {
                id: k,
                k: extrema.rng.below(3) as usize,
                form: extrema.rng.below(8),
                local: extrema.rng.below(2) == 0,
            };
            extrema.insert(&mut body, extremum, true);
        }
        for dual in [false, true] {
            out.push_str(&render(dual, INPUTS, has_reader).program(&name, &body));
        }
        let _ = writeln!(
            table,
            "    Entry {{ name: \"{name}\", primal: {name}, grad: {name}_grad, jvp: {name}_jvp, hvp: {name}_hvp, dual: {name}_dual::<Dual64>, hyper: {name}_dual::<HyperDual64> }},"
        );
    }
    table.push_str("];\n");
    out.push_str(&table);
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("generated_programs.rs");
    std::fs::write(path, out).expect("OUT_DIR is writable");
}

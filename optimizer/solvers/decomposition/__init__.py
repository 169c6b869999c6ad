"""Large-scale solve path: Lagrangian decomposition over the coupling rows, with a certified optimality gap.

Why it works. Only the coupling rows (budget, channel capacities, coverage, saturation, fairness: about 20)
link customers; every other row is one customer's "at most one action". For multipliers `lam` on the
coupling rows (lam >= 0 on '<=' rows, lam <= 0 on '>=' rows: d objective / d right-hand side), every
feasible plan x has

    objective(x) <= L(lam) - sum_i loss_i(x),    L(lam) = lam . b + sum_i max(0, max_k r[i,k]),
    r[i,k] = c[i,k] - lam . A[:, (i,k)]   (the reduced profit),

where loss_i(x) >= 0 is how far customer i's choice in x falls short of its best reduced profit. So L(lam)
is an upper bound for any such lam (its minimum is the LP relaxation's optimum), one pass over customers x
actions evaluates it, and at the LP optimum only the customers near a tie are ambiguous.

`DecompositionSession.solve`:

1. Exact when the objective depends only on a customer's class (same per-customer coefficients, same
   eligible actions: feasibility checks, the least budget): customers of a class are interchangeable, and
   the MILP over classes (an integer count per class and action) is solved whole.
2. Feasibility, exactly: the MILP over classes with a zero objective (a few hundred integer variables at
   any scale; skipped when the session's previous plan still fits). Infeasible settings stop here;
   otherwise its plan is the fallback incumbent.
3. Multipliers: minimize L by cutting planes in a box trust region (each cut one exact evaluation of L and
   its subgradient b - A x(lam)), Newton steps on the binding rows, then the cutting planes' tail. For the
   retention objective w_i * uplift_k - cost_k an evaluation costs O(classes x actions^2 + log n)
   (customers of a class sorted by w once); for any other objective one dense pass, started from the LP of a
   random sample. A warm start begins at the previous multipliers, with the previous cuts, and an earlier plan
   that still fits the new right-hand sides replaces step 2.
4. Plan: every customer at its best action at the multipliers (one exact pricing pass), then a plan over the
   customers with the smallest margins (each offered its three best options), everyone else fixed: their
   LP relaxation (integral: the MILP's optimum); if fractional, its rounding (the integral customers fixed,
   a MILP over the few fractional ones), kept when within `rounding_gap` of the bound, else their exact
   MILP (whose root alone can take seconds on knapsack-like neighbourhoods). Every candidate plan is checked
   against every row before use.
5. Certificate: bound = L(lam) (computed directly, valid whatever the LP solver's tolerances), gap =
   (bound - objective) / |objective|. When few choices have a loss below bound - objective, reduced-cost
   fixing makes the exact MILP over just those small: every better plan uses only such choices, so its
   optimum is the global optimum and the gap closes. Once the target gap is met, a certificate that would
   free more customers than the neighbourhood is skipped (its MILP can take seconds) and the plan keeps its
   honest gap. A small model whose gap stays above the target is solved whole.

LP-relaxation sessions (the duals of `marginal_values`) finish step 3 with sifting: an LP over the customers
with the smallest margins, everyone else fixed to their best action, until no fixed choice stops being best.

The per-action + per-customer form of the coupling rows (see `Problem`) is what makes pricing cheap. HiGHS
solves every LP and MILP, on one thread with a fixed seed: results are deterministic.

Warm starts travel with results, never on the shared `Problem`: a session's `warm_state()` (multipliers and
cuts per objective, the last plan, the customer classes and the prepared objective arrays, all read-only) is
what a later session on the same problem `resume`s from (`solve_plan(..., warm_start=previous_result)`).

Modules, by job: `classes` (customer classes and groups of interchangeable customers), `pricing` (reduced
profits, best choices, the exact evaluation of L and the rank-one evaluator), `dual` (cutting planes and
Newton steps on L, the cuts kept for a warm start), `relaxation` (the sample LP, sifting), `neighbourhood`
(the plan over the most ambiguous customers), `certificate` (reduced-cost fixing), `units` (the small LPs
and MILPs over customers or classes), `options` (tuning), `session` (the orchestration).
"""

from optimizer.solvers.decomposition.classes import structure
from optimizer.solvers.decomposition.options import DecompositionOptions
from optimizer.solvers.decomposition.session import DecompositionSession, WarmStart

__all__ = ["DecompositionOptions", "DecompositionSession", "WarmStart", "structure"]

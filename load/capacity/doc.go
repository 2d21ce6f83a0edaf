// Package capacity searches for the highest request rate a server
// sustains within an SLO, running one load step after another: the rate
// grows geometrically until a step fails, then the bracket between the
// highest pass and the lowest failure is bisected. A rate that fails is
// run again until most of its runs agree, and the bracket's failing top
// is confirmed so, since one noisy step must not decide the answer; a
// rate that failed below one that passed does not lower the capacity.
//
// [Search] drives the search through a [StepRunner], usually one
// [load.Run] per step. [ShardedSteps] makes a StepRunner that runs each
// step as one of several processes in lockstep through a folder they
// share, so that every process judges the same merged measurements and
// takes the same decisions.
package capacity

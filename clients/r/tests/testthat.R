# R CMD check runs this file. Tests that need a Drover stack skip without one: run them
# with npm test -- clients/r/r.test.ts, which starts a stack and fails on any skip.
library(testthat)
library(drover)

test_check("drover")

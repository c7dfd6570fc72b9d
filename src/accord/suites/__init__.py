"""Safety suites: scenarios, mutations, targets, response judging, runner and reports."""

"""Safety testing before release: suites, red-team mutations, targets, response judging and reports.

Typical use::

    from accord.suites import run_suites

    report = run_suites(["harms", "over-refusal"], "openai:http://127.0.0.1:8000/v1?model=mine",
                        mutations=["base64", "roleplay"])
    report.assert_passed()

or ``accord test harms over-refusal --target ... --junit out.xml``. See ``docs/suites.md``.
"""

from accord.suites.agents import Episode, Step, run_episode
from accord.suites.loader import (
    BUILTIN_SUITES,
    builtin_suite_names,
    load_suite,
    parse_suite_csv,
    parse_suite_jsonl,
    parse_suite_yaml,
)
from accord.suites.model import (
    AgentSpec,
    CallMatch,
    Expect,
    Scenario,
    Suite,
    SuiteError,
    ToolResult,
    ToolSpec,
)
from accord.suites.mutations import (
    BUILTIN_MUTATIONS,
    Mutation,
    get_mutation,
    mutate,
    mutation_names,
    register_mutation,
)
from accord.suites.refusal import RefusalDetector, RefusalResult, default_detector
from accord.suites.report import (
    html_report,
    junit_xml,
    print_summary,
    write_html,
    write_json,
    write_junit,
)
from accord.suites.runner import Report, Result, run_suites
from accord.suites.targets import (
    CommandTarget,
    OpenAITarget,
    ProposedCall,
    PythonTarget,
    ReplayTarget,
    Reply,
    Target,
    TargetFault,
    get_target,
    register_target,
    target_schemes,
)

__all__ = [
    "BUILTIN_MUTATIONS",
    "BUILTIN_SUITES",
    "AgentSpec",
    "CallMatch",
    "CommandTarget",
    "Episode",
    "Expect",
    "Mutation",
    "OpenAITarget",
    "ProposedCall",
    "PythonTarget",
    "RefusalDetector",
    "RefusalResult",
    "ReplayTarget",
    "Reply",
    "Report",
    "Result",
    "Scenario",
    "Step",
    "Suite",
    "SuiteError",
    "Target",
    "TargetFault",
    "ToolResult",
    "ToolSpec",
    "builtin_suite_names",
    "default_detector",
    "get_mutation",
    "get_target",
    "html_report",
    "junit_xml",
    "load_suite",
    "mutate",
    "mutation_names",
    "parse_suite_csv",
    "parse_suite_jsonl",
    "parse_suite_yaml",
    "print_summary",
    "register_mutation",
    "register_target",
    "run_episode",
    "run_suites",
    "target_schemes",
    "write_html",
    "write_json",
    "write_junit",
]

"""Human review: the queue of escalated cases, agreement between people, and learning from their verdicts.

The pieces, in the order a case travels::

    gate ──escalate──▶ escalation_recorder ──▶ review queue (priority = uncertainty × severity)
                                                   │  routed by community; a share to two people
                        accord ui / accord review ◀┘
                                                   │  reviews (append-only), corrections, preferences
    retrain_from_store ◀── build_feedback ◀── resolve (majority | reliability)
         │
         └─▶ promotion gate (not worse on held-out reviews) ─▶ model_versions + model_events
"""

from accord.review.agreement import (
    PairAgreement,
    Resolved,
    cohen_kappa,
    fleiss_kappa,
    overall_fleiss,
    pairwise_kappas,
    resolve,
    reviewer_reliability,
)
from accord.review.feedback import ReviewFeedback, build_feedback
from accord.review.priority import expected_improvement, review_priority, uncertainty
from accord.review.queue import (
    QueueConfig,
    escalation_recorder,
    needs_two,
    next_item,
    open_items,
    rank,
)
from accord.review.retrain import (
    IncrementalLearner,
    PromotionResult,
    current_model_path,
    ensure_current,
    evaluate_labels,
    packaged_suite,
    promote,
    retrain_from_store,
    rollback,
)
from accord.review.users import User, Users, hash_password, verify_password

__all__ = [
    "IncrementalLearner",
    "PairAgreement",
    "PromotionResult",
    "QueueConfig",
    "Resolved",
    "ReviewFeedback",
    "User",
    "Users",
    "build_feedback",
    "cohen_kappa",
    "current_model_path",
    "ensure_current",
    "escalation_recorder",
    "evaluate_labels",
    "expected_improvement",
    "fleiss_kappa",
    "hash_password",
    "needs_two",
    "next_item",
    "open_items",
    "overall_fleiss",
    "packaged_suite",
    "pairwise_kappas",
    "promote",
    "rank",
    "resolve",
    "retrain_from_store",
    "review_priority",
    "reviewer_reliability",
    "rollback",
    "uncertainty",
    "verify_password",
]

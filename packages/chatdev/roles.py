"""Agents and their system prompts: role prompts, the no-roles ablation, message histories.

Each agent's system message is its role prompt formatted with `chatdev_prompt`, `task`,
`assistant_role` and `user_role`; its own utterances are `assistant` messages and its partner's
are `user` messages; short-term memory is the whole in-phase history (no window).

Reproduces: ChatDev §3.1 (role specialisation, memory); chatdev.md §2.2, §2.5 steps 1-2,
§2.18 (`\\Roles` ablation: a neutral assistant instruction plus the task).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thunlp_repro.chatdev import prompts
from thunlp_repro.chatdev.company import Company


@dataclass
class Agent:
    """One participant of a chat: a role name, a system prompt and its message history."""

    role: str
    system: str
    history: list[dict[str, str]] = field(default_factory=list)

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, *self.history]

    def said(self, text: str) -> None:
        """Store one of this agent's own utterances."""
        self.history.append({"role": "assistant", "content": text})

    def heard(self, text: str) -> None:
        """Store a message from the partner."""
        self.history.append({"role": "user", "content": text})


def system_prompt(
    company: Company, role: str, task: str, assistant_role: str, user_role: str, with_roles: bool
) -> str:
    """The system message of `role` in a chat between `user_role` and `assistant_role`."""
    if not with_roles:
        return prompts.NEUTRAL_SYSTEM.format(task=task)
    template = company.roles[role]
    return template.format(
        chatdev_prompt=company.background_prompt,
        task=task,
        assistant_role=assistant_role,
        user_role=user_role,
    )


def make_pair(
    company: Company, assistant_role: str, instructor_role: str, task: str, with_roles: bool
) -> tuple[Agent, Agent]:
    """The assistant and instructor agents of one phase."""
    assistant = Agent(
        assistant_role,
        system_prompt(company, assistant_role, task, assistant_role, instructor_role, with_roles),
    )
    instructor = Agent(
        instructor_role,
        system_prompt(company, instructor_role, task, assistant_role, instructor_role, with_roles),
    )
    return assistant, instructor

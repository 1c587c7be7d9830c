"""ChatDev: communicative agents for software development (Qian et al., ACL 2024).

A chat chain of phases (instructor/assistant chats with an end-of-chat marker), loops for code
completion, review and testing, communicative dehallucination, sandboxed testing, transcripts
and replay, over any OpenAI-compatible backend. Entry points: `pipeline.run_project`,
`pipeline.replay_project`; CLI: `thunlp-repro chatdev run | serve | replay`.

Reproduces: ChatDev §3 (method); spec: chatdev.md.
"""

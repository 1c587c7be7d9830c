"""Scripted ChatDev scenarios for the fake server and `ScriptedLLM`: three small tasks of our own
(SRDD-like, written by us) and rule sets that play the whole default chain deterministically.

Scenario switches: a program that crashes first and is fixed in the Test loop; CDH questions in
the fix sub-phases; DemandAnalysis without a marker (Reflection runs); broken code format
(re-ask); path escapes (`../x.py`, `/etc/x.py`); review comments before "Finished"; placeholder
code for CodeCompleteAll. Budget hits come from the config's caps.

Reproduces: chatdev.md §2.14 (shipped scenarios), §4 (`ci` tier: 3 scripted tasks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thunlp_repro.shared.llm.scripted import Rule, Script


@dataclass
class ScriptedTask:
    """A task with a correct program, a crashing variant and a variant with a stub."""

    task_id: str
    task: str
    files: dict[str, str]
    buggy: dict[str, str]
    stub: dict[str, str] = field(default_factory=dict)
    title: str = "App"


DICE = ScriptedTask(
    "Tools__DiceRoller",
    "Build a command-line dice roller that rolls two six-sided dice with a fixed seed and "
    "prints each die and the total.",
    files={
        "main.py": (
            "'''Roll two dice and print the result.'''\n"
            "import random\n\n\n"
            "def roll(count, sides, rng):\n"
            "    '''Return `count` rolls of a die with `sides` faces.'''\n"
            "    return [rng.randint(1, sides) for _ in range(count)]\n\n\n"
            'if __name__ == "__main__":\n'
            "    dice = roll(2, 6, random.Random(0))\n"
            '    print("dice:", dice, "total:", sum(dice))\n'
        )
    },
    buggy={
        "main.py": (
            "'''Roll two dice and print the result.'''\n"
            "import random\n\n\n"
            "def roll(count, sides, rng):\n"
            "    '''Return `count` rolls of a die with `sides` faces.'''\n"
            "    return [rng.randint(1, sides) for _ in range(count)]\n\n\n"
            'if __name__ == "__main__":\n'
            "    dice = roll(2, 6, random.Random(0))\n"
            '    print("dice:", dice, "total:", totl(dice))\n'
        )
    },
    stub={
        "main.py": (
            "'''Roll two dice and print the result.'''\n"
            "import random\n\n\n"
            "def roll(count, sides, rng):\n"
            "    '''Return `count` rolls of a die with `sides` faces.'''\n"
            "    pass\n\n\n"
            'if __name__ == "__main__":\n'
            '    print("dice:", roll(2, 6, random.Random(0)))\n'
        )
    },
    title="Dice Roller",
)

CONVERTER = ScriptedTask(
    "Tools__TempConverter",
    "Create a temperature converter that prints a table of Celsius values from 0 to 100 in "
    "steps of 25 with their Fahrenheit equivalents.",
    files={
        "main.py": (
            "'''Print a Celsius to Fahrenheit table.'''\n"
            "from units.convert import c_to_f\n\n"
            'if __name__ == "__main__":\n'
            "    for c in range(0, 101, 25):\n"
            '        print(f"{c:>4} C = {c_to_f(c):6.1f} F")\n'
        ),
        "units/__init__.py": "'''Unit conversions.'''\n",
        "units/convert.py": (
            "'''Temperature conversion.'''\n\n\n"
            "def c_to_f(celsius):\n"
            "    '''Convert degrees Celsius to Fahrenheit.'''\n"
            "    return celsius * 9 / 5 + 32\n"
        ),
    },
    buggy={
        "main.py": (
            "'''Print a Celsius to Fahrenheit table.'''\n"
            "from units.convert import celsius_to_f\n\n"
            'if __name__ == "__main__":\n'
            "    for c in range(0, 101, 25):\n"
            '        print(f"{c:>4} C = {celsius_to_f(c):6.1f} F")\n'
        ),
        "units/__init__.py": "'''Unit conversions.'''\n",
        "units/convert.py": (
            "'''Temperature conversion.'''\n\n\n"
            "def c_to_f(celsius):\n"
            "    '''Convert degrees Celsius to Fahrenheit.'''\n"
            "    return celsius * 9 / 5 + 32\n"
        ),
    },
    title="Temperature Converter",
)

WORDS = ScriptedTask(
    "Tools__WordCounter",
    "Write a word counter that counts the words of a built-in sample text and prints the three "
    "most common words with their counts.",
    files={
        "main.py": (
            "'''Count the words of a sample text.'''\n"
            "from collections import Counter\n\n"
            'SAMPLE = "the cat and the dog and the bird"\n\n\n'
            "def top_words(text, n=3):\n"
            "    '''Return the n most common words of text.'''\n"
            "    return Counter(text.split()).most_common(n)\n\n\n"
            'if __name__ == "__main__":\n'
            "    for word, count in top_words(SAMPLE):\n"
            "        print(word, count)\n"
        )
    },
    buggy={
        "main.py": (
            "'''Count the words of a sample text.'''\n"
            "from collections import Counter\n\n"
            'SAMPLE = "the cat and the dog and the bird"\n\n\n'
            "def top_words(text, n=3):\n"
            "    '''Return the n most common words of text.'''\n"
            "    return Counter(text.split()).most_common(n)\n\n\n"
            'if __name__ == "__main__":\n'
            "    for word, count in top_words(SAMPLE):\n"
            "        print(word + count)\n"
        )
    },
    title="Word Counter",
)

TASKS = [DICE, CONVERTER, WORDS]


def render_files(files: dict[str, str], intro: str = "Here is the complete code.") -> str:
    """A reply in the filename-line + fenced-block format."""
    parts = [intro]
    for path, content in files.items():
        lang = "python" if path.endswith(".py") else ""
        parts.append(f"{path}\n```{lang}\n{content}```")
    return "\n\n".join(parts)


CDH_SUB_PHASES = ("CodeComplete", "CodeReviewModification", "TestModification")


def chatdev_script(
    task: ScriptedTask = DICE,
    *,
    buggy: bool = False,
    stub: bool = False,
    cdh_questions: bool = False,
    no_marker: bool = False,
    broken_format: int = 0,
    escape: bool = False,
    review_comments: int = 0,
    requirements: str = "",
) -> Script:
    """Rules that play the default chain for `task`.

    Args:
        task: The scripted task.
        buggy: Coding returns a crashing program; the Test loop fixes it.
        stub: Coding returns placeholder code; CodeCompleteAll fills it in.
        cdh_questions: Fix sub-phases ask one `<QUESTION>` first (answered by the instructor).
        no_marker: DemandAnalysis never concludes, so Reflection decides the modality.
        broken_format: Coding answers this many times without any code block first.
        escape: Coding also returns `../escape.py` and `/etc/evil.py` blocks (refused).
        review_comments: Review cycles with a comment before "<INFO> Finished".
        requirements: Body of the requirements.txt block.
    """
    s = Script()
    if cdh_questions:
        for phase in CDH_SUB_PHASES:
            s.add("<QUESTION> Which module should hold the fix, and may I use only the standard "
                  "library?", phase=phase, role="assistant", times=1)  # fmt: skip
            s.add("Keep everything in the files you have and use only the standard library.",
                  phase=phase, role="instructor")  # fmt: skip
    # discussions
    if no_marker:
        s.add("I think a program people run on their computer suits this task.",
              phase="DemandAnalysis", role="assistant")  # fmt: skip
        s.add("Keep thinking about the form.", phase="DemandAnalysis", role="instructor")
        s.add("They settled on an application.\n<INFO> Application",
              phase="DemandAnalysis.Reflection")  # fmt: skip
    else:
        s.add("A program the user runs fits this task.\n<INFO> Application",
              phase="DemandAnalysis", role="assistant")  # fmt: skip
    s.add("Python can do all of this.\n<INFO> Python", phase="LanguageChoose", role="assistant")
    s.add("<INFO> Python", phase="LanguageChoose.Reflection")
    # coding
    first = task.buggy if buggy else task.stub if stub else task.files
    if broken_format:
        s.add("I will now write the program. It has a roll function and prints the total.",
              phase="Coding", role="assistant", times=broken_format)  # fmt: skip
    coding = render_files(first, "Core function: the entry point.\nThe files:")
    if escape:
        coding += "\n\n../escape.py\n```python\nprint('escaped')\n```"
        coding += "\n\n/etc/evil.py\n```python\nprint('evil')\n```"
    s.add(coding, phase="Coding", role="assistant")
    s.add(render_files(task.files), phase="CodeComplete", role="assistant")
    # review
    if review_comments:
        s.add("<COMMENT> The main block should explain its output; add a comment above print.",
              phase="CodeReviewComment", role="assistant", times=review_comments)  # fmt: skip
    s.add("The code meets all six points.\n<INFO> Finished", phase="CodeReviewComment",
          role="assistant")  # fmt: skip
    s.add(render_files(first if buggy else task.files), phase="CodeReviewModification",
          role="assistant")  # fmt: skip
    # test
    s.add("main.py calls a name that does not exist or joins values of different types; the "
          "call must use the defined function and matching types.", phase="TestErrorSummary",
          role="assistant")  # fmt: skip
    s.add(render_files(task.files, "Fixed files:"), phase="TestModification", role="assistant")
    # docs
    s.add(f"requirements.txt\n```\n{requirements}\n```", phase="EnvironmentDoc", role="assistant")
    s.add(f"requirements.txt\n```\n{requirements}\n```", phase="EnvironmentDoc.Reflection")
    s.add(f"manual.md\n```markdown\n# {task.title}\n\nRun `python main.py`.\n```",
          phase="Manual", role="assistant")  # fmt: skip
    return s


def rule_count(script: Script) -> int:
    """Number of rules (helps tests that extend a scenario)."""
    return len(script.rules)


__all__ = ["TASKS", "DICE", "CONVERTER", "WORDS", "ScriptedTask", "Rule", "chatdev_script",
           "render_files"]  # fmt: skip

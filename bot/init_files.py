"""What `civicbot init` writes into a folder: a commented civicbot.toml to start from,
and the example surveys to copy from."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.survey_files import EXAMPLE_SURVEYS, survey_files

SETTINGS = """\
# civicbot's settings. Every one is explained in docs/configuration.md; the commented
# ones show their defaults. Secrets never go here: they come from environment variables
# (or systemd credentials), named by the *_env settings.
#
#   civicbot surveys check surveys     checks the survey files
#   civicbot run --config civicbot.toml

# timezone = "UTC"                  # cron times and "today" in date answers
# coordinators = ["web:staff"]      # who may run survey commands: platform:user
# quiet_hours = "20:00-08:00"       # no reminders between these times ("off": none)
# log_level = "INFO"                # DEBUG adds details that may quote people
# log_format = "text"               # or "json"

[storage]
database = "civicbot.db"            # with its -wal, -shm and .key files beside it
# keep_addresses = "90 days"
# backup_before_migrating = true

[surveys]
folder = "surveys"                  # every *.yaml file in it; start from the examples
# staff_channel = "slack:C0STAFF"   # digests of open surveys that name none
# staff_language = "en"             # en, fi or sv

[web]                               # the web chat and the staff page
host = "127.0.0.1"                  # a reverse proxy in front: docs/deploy.md
port = 8080
# public_url = "https://example.org/feedback/"
# trusted_proxies = ["127.0.0.1"]
# staff_key_env = "CIVICBOT_STAFF_KEY"

# [health]                          # /healthz, /readyz, /metrics
# enabled = true
# host = "127.0.0.1"
# port = 8081

# [slack]                           # docs/slack.md
# bot_token_env = "SLACK_BOT_TOKEN"
# signing_secret_env = "SLACK_SIGNING_SECRET"

# [matrix]                          # docs/matrix.md
# homeserver = "https://matrix.example.org"
# user_id = "@civicbot:example.org"

# [sms]                             # docs/sms.md: text messages through Twilio
# sender = "+358451234000"          # TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN in the environment
# public_url = "https://feedback.example.org/sms/"
"""


def write_starting_files(folder: Path) -> list[Path]:
    """civicbot.toml and surveys/ with the examples, in `folder`; the files written.
    Raises FileExistsError naming the first that is there already: init never
    overwrites."""
    settings = folder / "civicbot.toml"
    surveys = folder / "surveys"
    examples = survey_files(EXAMPLE_SURVEYS)
    for taken in (settings, *(surveys / example.name for example in examples)):
        if taken.exists():
            raise FileExistsError(taken)
    settings.write_text(SETTINGS, encoding="utf-8")
    surveys.mkdir(exist_ok=True)
    written = [settings]
    for example in examples:
        shutil.copyfile(example, surveys / example.name)
        written.append(surveys / example.name)
    return written

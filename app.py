"""Store Assistant: navigation between the staff chat and the managers' pages.

Run with `make run` (or `streamlit run app.py`). The pages live in `store_assistant/web/pages/`;
this file only decides which of them this session may see.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from store_assistant.errors import StoreAssistantError
from store_assistant.web.pages.chat import chat_page, sign_in_page
from store_assistant.web.ui import account, account_box, cached_settings, is_manager

# The icon is a file of ours: a ":material/...:" page icon makes the browser fetch it from Google's
# font servers (tests/web/test_browser.py counts every request to another host).
st.set_page_config(page_title="Store Assistant",
                   page_icon=str(Path(__file__).parent / "store_assistant" / "web" / "icon.png"))

# --- navigation ------------------------------------------------------------------------------

try:
    cached_settings()
except StoreAssistantError as exc:
    st.error(f"Settings problem: {exc}", icon=":material/settings:")
    st.stop()

settings = cached_settings()
try:
    signed_in = account()
    account_box("Manager sign-in" if not settings.staff_login else "Sign in")
except StoreAssistantError as exc:  # e.g. a damaged accounts file: say so, stay up for chat
    signed_in = None
    st.sidebar.error(str(exc), icon=":material/lock:")
pages = [st.Page(chat_page, title="Chat", icon=":material/chat:", default=True)]
if settings.staff_login and not signed_in:
    pages = [st.Page(sign_in_page, title="Sign in", icon=":material/login:", default=True)]
if is_manager():  # other sessions do not get these pages at all, whatever URL they ask for
    pages += [st.Page("store_assistant/web/pages/inventory.py", title="Inventory",
                      icon=":material/inventory_2:", url_path="inventory"),
              st.Page("store_assistant/web/pages/numbers.py", title="Ask the numbers",
                      icon=":material/query_stats:", url_path="numbers"),
              st.Page("store_assistant/web/pages/scorecards.py", title="Scorecards",
                      icon=":material/leaderboard:", url_path="scorecards"),
              st.Page("store_assistant/web/pages/operations.py", title="Operations",
                      icon=":material/monitoring:", url_path="operations")]
page = st.navigation(pages)
# The layout is set once per run, here: a second set_page_config with another layout in the same
# run loses to the first in the browser after a rerun (the scorecards went narrow on every click).
st.set_page_config(layout="wide" if page.url_path in ("scorecards", "operations") else "centered")
page.run()

"""Circles: small, local, stable groups of neighbours, and their rooms on each platform.

What other features may use is imported here; everything else in this package is its own business:
``placement`` (pure decisions: who joins which circle, merges, splits), ``membership`` (applying them:
joining, leaving, merging, the welcome), ``rooms`` (mirroring words between a circle's rooms, the daily
merge of circles grown too small), ``waiting`` (news for those whose circle could not open, with the
nearby circles that have room).
"""

from bot.circles.membership import introduction, place_label
from bot.circles.membership import leave as leave_circle
from bot.circles.membership import merge as merge_circles
from bot.circles.membership import place as place_in_circle
from bot.circles.placement import plan_split
from bot.circles.rooms import install
from bot.circles.waiting import nearby_place

__all__ = ["install", "introduction", "leave_circle", "merge_circles", "nearby_place", "place_in_circle", "place_label",
           "plan_split"]

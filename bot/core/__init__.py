"""The core: what every feature uses and no feature owns (see ``bot.core.app`` for the Core itself).

It imports no feature package: features register on a Core in their ``install(core)``, and
``bot.assemble`` decides which features a deployment runs.
"""

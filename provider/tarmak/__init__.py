"""The Tarmak provider itself, apart from the generic SDK (server/, framework/, cty/).

It imports nothing on purpose: resources import `provider.tarmak.settings`
and the provider block (`provider.tarmak.provider`) imports the resource list,
so a package that re-exported the provider here would bring the import circle
back. It only names where the provider is, for those that must not import it
at start (provider/main.py, `make`'s and the package's schema snapshots).
"""

ENTRY = "provider.tarmak.provider:TarmakProvider"

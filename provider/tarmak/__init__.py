"""The Tarmak provider itself, apart from the generic SDK (server/, framework/, cty/).

Kept empty on purpose: resources import `provider.tarmak.settings` and the
provider block (`provider.tarmak.provider`) imports the resource list, so a
package that re-exported the provider here would bring the import circle back.
"""

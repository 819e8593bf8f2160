"""Quotas: who may edit how much, and what each edit costs.

:mod:`.rules` holds the configured defaults, the scopes an edit draws on and the periods;
:mod:`.limits` applies what admins stored on top of them; :mod:`.credits` prices an edit in
credits by model, size and quality; :mod:`.costs` turns the API's usage into money for reports.
"""

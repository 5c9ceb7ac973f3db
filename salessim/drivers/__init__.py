"""The eight drivers of sales-force performance, one module each.

======  ====================================  =====================================================
driver  scenario field                        module
======  ====================================  =====================================================
1       ``goals``                             :mod:`salessim.drivers.goals`
2       ``prescription``                      :mod:`salessim.drivers.prescription`
3       ``metrics``                           :mod:`salessim.drivers.metrics`
4       ``crm_adoption``                      :mod:`salessim.drivers.crm`
5       ``managers``                          :mod:`salessim.drivers.training`
6       ``coaching``                          :mod:`salessim.drivers.coaching`
7       ``reviews``                           :mod:`salessim.drivers.reviews`
8       ``culture``                           :mod:`salessim.drivers.culture`
======  ====================================  =====================================================

Where a driver makes a choice — how a rep plans prospecting, which reps a manager coaches, what a
manager sees of a rep — the choice is a plain function picked from a registry keyed by the
scenario's setting (``PROSPECTING_PLANS``, ``TARGETING``, ``ESTIMATES`` and ``FORECASTS``).
"""

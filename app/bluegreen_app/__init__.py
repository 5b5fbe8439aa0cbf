"""The sample workload that bluegreen deploys: a small, honest web service.

Honest health (ready only when it can serve), graceful shutdown (finish what
is in flight, then exit 0), structured logs: the properties a zero-downtime
switch relies on, so every test and benchmark exercises them for real.
"""

"""How long routing lets things ring, in seconds: each duration defined once,
for the plan builders and the destination modules alike."""

# R15: by default a direct call nobody answers ends as "busy" after two minutes.
DIRECT_CALL_RING_SECONDS = 120
# How long the colleague or department a no-answer rule forwards to rings
# (an employee's own rule, and the CRM manager's).
FORWARD_RING_SECONDS = 30
# How long an IVR key's destination rings (R7 recommends over 30 s for people);
# a hunting department rings by its own ring time instead.
IVR_KEY_RING_SECONDS = 60
# How long an outgoing call may ring at the callee before vpbx gives up on it
# (the carrier or the callee's network usually ends it sooner).
OUTGOING_RING_SECONDS = 180
# A click-to-call rings the employee's own phones this long: they asked for the
# call a moment ago, and a client must not be rung for nobody.
CLICK_TO_CALL_RING_SECONDS = 30
# R7: the step timeout meant for voicemail; the media app answers at once anyway.
VOICEMAIL_RING_SECONDS = 15
# The media app answers an announced scheme at once; this only bounds one that does not.
ANNOUNCE_RING_SECONDS = 15
# A caller never rings longer than this, however long the chain (R7): long
# chains of hunting departments would otherwise ring for hours.
MAX_RING_SECONDS = 600

# Kamailio forks one transaction per call, of at most this many branches over
# all its steps (kamailio.cfg: max_branches, the most tm allows; a unit test
# compares them). A plan rings at most this many targets in all: a phone
# registered twice, or a number retried through a second gateway, takes more
# than one, and then the call's last targets may not ring.
MAX_BRANCHES_PER_CALL = 30

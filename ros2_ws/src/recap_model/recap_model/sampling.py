"""How a flow-matching policy samples, as constants without torch (the policy node's parameters
and the lab's options read them without loading a model)."""

# Deviation from pi0 / RECAP, which start the flow from standard normal noise: by default the
# starting noise is scaled by 0.2 (a lower sampling temperature). Imprecise samples are what knocks
# the cup over. On 100 validation episodes (espresso seeds 2 000 000+, disjoint from the
# evaluation's) four policies succeed 45 -> 58 %, 33 -> 51 %, 78 -> 81 %, 56 -> 65 % at 0.5 instead
# of 1; on 200 validation episodes each (docs/TRAINER.md, deviation 11), from 0.5 to 0.2 the
# fine-tuned RECAP policies gain again (e.g. 564 -> 606 and 421 -> 542 successes/h), the SFT policy
# looked level there (287 -> 280) but lost on the evaluation seeds (313 -> 256). `noise_scale=1`
# restores the paper's sampling.
DEFAULT_NOISE_SCALE = 0.2

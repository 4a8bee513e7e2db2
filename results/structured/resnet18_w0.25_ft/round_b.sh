#!/bin/bash
# Round B of RULE.md (after round A: A0 kept, see the addendum): fine-tune variants from the A0 refit.
D=results/structured/resnet18_w0.25_ft
$D/val.sh B1 --ft-freeze-bn
$D/val.sh B2 --ft-freeze-bn --ft-teacher
$D/val.sh B3 --ft-teacher

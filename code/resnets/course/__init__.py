"""The course's own support: what exists for one chapter of the book, not for a practitioner.

    toy              Part 1  a numpy MLP small enough to read, with hand-written backward passes
    toy_experiments  Part 1  the experiments run on it: degradation, identity fits, gradients, paths
    widgets          Part 1  the explorers: sliders in Jupyter and Colab, pre-rendered frames on the site
    family           Part 2  the family's tables against the papers' (Table 1, Table 3, parameters, FLOPs)
    relatives        Part 2  DenseNet, highway, U-Net and FPN connections beside the residual one
    build_it         Part 2  build-it-yourself checks: the reader's block or ResNet-20 against the package's
    build_it_network Part 2  the whole-network check's machinery: strict load, then a forward trace
    context          Part 2  the family in its context: widening, the Transformer's residual stream
    first_run        Part 2  the first training run: plain-20 against ResNet-20, and zero-init
    degradation      Part 3  the degradation chapter's plan by profile (train, stored, shipped) and margin note
    inside           Part 3  looking inside the shipped trained nets: the nets, responses, block ratios, gradients
    inside_features  Part 3  what each stage passes on: feature maps and their explorer
    inside_landscape Part 3  the loss around the trained weights along random directions (Li et al. 2018)
    inside_mistakes  Part 3  what the nets get wrong: their predictions, confusion matrix, confident mistakes
    lesions          Part 3  Veit et al.'s lesion study: blocks deleted one or k at a time; stored deep studies
    table6           Part 3  Table 6 beside the cpu recipe's shipped runs: lengths, seeds, gaps, costs
    timings          Parts 2-3 how much the chapters that time things measure, by profile
    exercises                every chapter's exercises: the answers, computed, and the checks
    claims                   every chapter's claims, checked (a broken one explains itself); numbers glued into prose

These modules import the library (``resnets``), never the other way round
(``tests/test_layout.py`` checks the direction).
"""

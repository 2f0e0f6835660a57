"""Training learns: the real engine, on a few hundred real CIFAR-10 images, fits them and
generalises a little.

The other engine tests check what a run writes, resumes and refuses; this one checks that the
numbers it optimises go where training should take them. A step that does not update the
weights, or a broken backward pass, leaves the training error near chance (90%) and the loss
near ln 10 = 2.30. Labels paired with the wrong images are not caught by the fit: resnet8
memorises 320 shuffled labels just as well (5.6% training error, seed 0). They are caught by
the test error, which stays at chance (87.8%) where the real labels bring it to about 61%.
"""

from __future__ import annotations

from resnets.data import CIFAR10
from resnets.recipe import TrainConfig
from resnets.train import train

#: resnet8 on 320 training images (32 a class), no augmentation, float32, 20 epochs of 10 steps:
#: 40 to 60 s on one thread of a busy 2-core machine. Measured with seeds 0, 1 and 2 on a 2-core AMD EPYC (one thread):
#: training error on all 320 images in eval mode after the last epoch 6.2%, 7.8%, 9.4%; the
#: last epoch's mean training loss over the first's 0.533/2.257, 0.586/2.320, 0.596/2.309
#: (0.24, 0.25, 0.26); the last epoch's running training error 13.7%, 10.3%, 12.2%; the test
#: error on 500 test images (50 a class) 60.6%, 62.0%, 61.4%.
LEARNS = TrainConfig(
    model="resnet8",
    schedule="fast",
    epochs=20,
    batch_size=32,
    lr=0.1,
    weight_decay=5e-4,
    label_smoothing=0.0,
    train_subset=320,
    val_size=0,
    test_subset=500,
    augment=False,
    eval_train=True,
    eval_train_size=10,  # a cheap sample after each epoch; all 320 images after the last
    amp="off",  # float32 on every CPU: bf16 where the CPU has it would give another trajectory
    channels_last=False,
    progress=False,
    sync_every=5,
)
#: The thresholds: 1.5 to 2 times the worst of the three seeds, and far from chance.
MAX_FINAL_FIT_ERROR = 0.20
MAX_FINAL_RUNNING_ERROR = 0.30
MAX_LOSS_RATIO = 0.40
#: Chance is 90%; 75% is 11 binomial standard errors below it and 6 above the seeds' worst.
MAX_FINAL_TEST_ERROR = 0.75


def test_a_small_net_fits_a_few_hundred_real_images_and_beats_chance_on_unseen_ones(cifar10: CIFAR10) -> None:
    metrics = train(LEARNS, cifar10).metrics
    first, last = metrics[0], metrics[-1]
    losses = ", ".join(f"{m['train_loss']:.2f}" for m in metrics)
    assert len(metrics) == LEARNS.epochs and last["train_eval_images"] == LEARNS.train_subset
    assert last["train_eval_error"] < MAX_FINAL_FIT_ERROR, (
        f"after {LEARNS.epochs} epochs resnet8 misclassifies {last['train_eval_error']:.1%} of its "
        f"{LEARNS.train_subset} training images (eval mode); three seeds measured 6.2% to 9.4%. Losses: {losses}"
    )
    assert last["train_error"] < MAX_FINAL_RUNNING_ERROR, (
        f"last epoch's running training error {last['train_error']:.1%}"
    )
    assert last["train_loss"] < MAX_LOSS_RATIO * first["train_loss"], f"the loss did not fall enough: {losses}"
    assert last["test_error"] < MAX_FINAL_TEST_ERROR, (
        f"test error {last['test_error']:.1%} on {LEARNS.test_subset} test images (chance 90%, three seeds "
        "60.6% to 62.0%): the net fits its training images without learning from them (labels paired with "
        "the wrong images?)"
    )

"""Chunk-level GRPO (paper §7.1) as a TRL ``GRPOTrainer`` that generates whole memory-writing episodes.

TRL hands the trainer a generation batch of rollout slots: each dataset row is one instance, repeated G times
(``num_generations``) by its sampler. `MemalphaGRPOTrainer` overrides only ``_generate_and_score_completions``:

1. every local slot becomes one episode of the rollout engine (`memalpha_rollout.run_episodes`), run in lockstep
   chunk by chunk; each chunk step is one call to TRL's own generation (`TRLGenerationPolicy`, which wraps
   ``_generate_single_turn``: plain ``generate``, continuous batching or vLLM, with TRL's weight sync);
   every process makes as many calls as the process with the most chunks;
2. every (rollout, chunk) becomes one training row: the chunk's context-reset prompt and its completion;
3. rewards (``r1 + r2 + compression_weight * r3 + content_weight * r4``) are standardised over the paper's group,
   every chunk sample of the G rollouts of an instance, gathered across processes (`group_advantages`);
4. rows are padded to the same count on every process, a multiple of ``steps_per_generation`` (TRL splits the
   batch evenly and drops a remainder), with dummy rows that carry no loss tokens;
5. old, reference and importance-sampling log-probabilities are added where TRL's loss needs them.

Everything else is TRL's: the PPO-clip loss (``loss_type="dapo"``: the token mean over the generation batch,
the paper's ``token-mean``), the optional KL to the reference (``beta``; ``use_bias_correction_kl=False`` gives
verl's ``low_var_kl``), the optimizer, accumulation, logging, checkpoints, accelerate and PEFT.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from statistics import fmean
from typing import Any

import torch
from accelerate.utils import gather_object
from trl import GRPOConfig, GRPOTrainer
from trl.models.utils import disable_gradient_checkpointing
from trl.trainer.utils import pad, use_adapter

from datasets import Dataset
from memalpha_data import Instance
from memalpha_rollout import (
    Answerer,
    ChunkSample,
    Completion,
    Episode,
    Judge,
    RolloutConfig,
    SamplingParams,
    episode_samples,
    run_episodes,
)

from .advantages import group_advantages
from .exceptions import RecipeError
from .prefix import shared_prefix_logps

__all__ = ["MemalphaGRPOTrainer", "TRLGenerationPolicy", "instances_dataset", "memalpha_reward"]

logger = logging.getLogger(__name__)

EpisodeHook = Callable[[list[Episode], int], None]


def instances_dataset(instances: Sequence[Instance]) -> Dataset:
    """The trainer's dataset: one row per instance (``prompt`` holds its id, ``instance`` its JSON)."""
    if not instances:
        raise ValueError("no training instances: build a dataset first (memalpha data build)")
    return Dataset.from_dict(
        {"prompt": [i.id for i in instances], "instance": [i.model_dump_json() for i in instances]}
    )


def memalpha_reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
    """A placeholder for TRL's mandatory reward source: the trainer scores whole episodes itself."""
    raise RuntimeError("memalpha_reward is never called: MemalphaGRPOTrainer computes episode rewards itself")


class TRLGenerationPolicy:
    """A token `memalpha_rollout.Policy` whose generation is the trainer's own (``_generate_single_turn``).

    Sampling follows the trainer's ``GRPOConfig`` (temperature, top-p/k, ``max_completion_length``), not the
    engine's `SamplingParams`. In vLLM server mode every process must send the same number of prompts, so the
    prompt list is padded to the largest on any process and the extra completions dropped.
    """

    def __init__(self, trainer: GRPOTrainer) -> None:
        self._trainer = trainer
        self.name = "trl"

    @property
    def tokenizer(self) -> Any:
        return self._trainer.processing_class

    def generate(self, prompt_ids: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Completion]:
        trainer = self._trainer
        prompts = [list(p) for p in prompt_ids]
        wanted = len(prompts)
        if trainer.use_vllm and trainer.args.vllm_mode == "server" and trainer.accelerator.num_processes > 1:
            target = max(gather_object([wanted]))
            prompts += [prompts[0]] * (target - wanted)
        completion_ids, logprobs = trainer._generate_single_turn(prompts, None, {}, 1)
        eos = set(trainer.eos_token_ids)
        completions = []
        for index in range(wanted):
            ids = [int(t) for t in completion_ids[index]]
            lps = None if logprobs is None else tuple(math.nan if x is None else float(x) for x in logprobs[index])
            completions.append(
                Completion(
                    text=self.tokenizer.decode(ids, skip_special_tokens=True),
                    ids=tuple(ids),
                    logprobs=lps,
                    finish_reason="stop" if ids and ids[-1] in eos else "length",
                )
            )
        return completions


class MemalphaGRPOTrainer(GRPOTrainer):
    """TRL's ``GRPOTrainer`` learning from memory-writing episodes (one row per rollout and chunk).

    Args:
        model: a model id or path, or a loaded causal LM (as ``GRPOTrainer``).
        args: TRL's own ``GRPOConfig``. ``num_generations`` is the paper's G (rollouts per instance);
            ``per_device_train_batch_size * steps_per_generation`` rollout slots are generated per process at once
            (a multiple of G across processes); ``max_completion_length`` bounds each chunk's reply; ``beta`` is the
            KL weight (0: the paper's text; 0.001 with ``use_bias_correction_kl=False``: its scripts).
            ``eval_strategy`` must be ``"no"``: validate with `ValidationCallback`.
        train_dataset: `instances_dataset` of the training instances.
        rollout: how episodes run (tool-call format, prompt budget, reward weights); its ``group_size`` and
            ``sampling`` are taken from ``args``.
        answerer / judge: the QA answerer (r1) and the content judge (r4); default: retrieval-recall and heuristic.
        episode_hooks: called as ``hook(local_episodes, global_step)`` after every generation (traces, debugging).
        share_prompt_prefix: compute the prompt prefix that all rows of a forward share (instructions and tools)
            once, not once per row (`memalpha_train.prefix`); same loss and gradient, less compute. Not used while
            activation checkpointing is on in a forward with gradients (it would drop the shared cache).
    """

    def __init__(
        self,
        model: Any,
        args: GRPOConfig,
        train_dataset: Dataset,
        *,
        rollout: RolloutConfig | None = None,
        answerer: Answerer | None = None,
        judge: Judge | None = None,
        processing_class: Any = None,
        callbacks: list[Any] | None = None,
        peft_config: Any = None,
        episode_hooks: Sequence[EpisodeHook] = (),
        share_prompt_prefix: bool = True,
    ) -> None:
        if str(args.eval_strategy) not in ("no", "IntervalStrategy.NO"):
            raise RecipeError(
                f"eval_strategy={str(args.eval_strategy)!r} is not supported: TRL's eval loop scores single "
                "completions; set eval_strategy='no' and validate episodes with ValidationCallback"
            )
        if args.log_completions:
            raise RecipeError("log_completions=True is not supported by episode training; set it to False")
        if "instance" not in train_dataset.column_names:
            raise ValueError("train_dataset has no 'instance' column: build it with instances_dataset(instances)")
        super().__init__(
            model=model,
            reward_funcs=[memalpha_reward],
            args=args,
            train_dataset=train_dataset,
            processing_class=processing_class,
            callbacks=callbacks,
            peft_config=peft_config,
        )
        sampling = SamplingParams(
            max_tokens=args.max_completion_length,
            temperature=args.temperature,
            top_p=args.top_p,
            top_k=args.top_k or 0,
        )
        self.rollout_config = replace(rollout or RolloutConfig(), group_size=1, sampling=sampling)
        self.answerer = answerer
        self.judge = judge
        self.episode_hooks = list(episode_hooks)
        self.share_prompt_prefix = share_prompt_prefix
        self.last_episodes: list[Episode] = []

    # ------------------------------------------------------------------------------------------ generation
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        if not self.model.training:
            raise RuntimeError("MemalphaGRPOTrainer has no TRL eval loop: validate with ValidationCallback")
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        instances = [Instance.model_validate_json(row["instance"]) for row in inputs]
        # global rollout slot of each local row: TRL gives process r the r-th contiguous slice of the batch
        slots = [rank * len(inputs) + i for i in range(len(inputs))]
        groups: list[Hashable] = [
            (inst.id, slot // self.num_generations) for inst, slot in zip(instances, slots, strict=True)
        ]

        steps = max(gather_object([max(i.num_chunks for i in instances)]))
        config = replace(self.rollout_config, seed=self.rollout_config.seed + self.state.global_step * world + rank)
        episodes = run_episodes(
            TRLGenerationPolicy(self),
            instances,
            answerer=self.answerer,
            config=config,
            judge=self.judge,
            min_steps=steps,
        )
        for episode, slot in zip(episodes, slots, strict=True):
            episode.rollout = slot % self.num_generations
        self.last_episodes = episodes
        samples: list[ChunkSample] = []
        sample_groups: list[Hashable] = []
        for episode, group in zip(episodes, groups, strict=True):
            episode_rows = episode_samples([episode])
            samples += episode_rows
            sample_groups += [group] * len(episode_rows)

        # rewards of every process: advantages are standardised over whole groups, which may straddle processes
        local = [
            (g, s.reward, s.r1, s.r2, s.r3, s.r4, len(s.completion_ids))
            for g, s in zip(sample_groups, samples, strict=True)
        ]
        per_process: list[list[tuple[Any, ...]]] = gather_object([local])
        flat = [row for part in per_process for row in part]
        advantages_all = group_advantages([r[1] for r in flat], [r[0] for r in flat])
        offset = sum(len(part) for part in per_process[:rank])
        advantages = advantages_all[offset : offset + len(samples)]
        self._log_episode_metrics(flat, advantages_all, episodes)
        for hook in self.episode_hooks:
            hook(episodes, self.state.global_step)

        target = max(len(part) for part in per_process)
        target = -(-target // self.args.steps_per_generation) * self.args.steps_per_generation
        return self._training_batch(samples, advantages, target)

    def _training_batch(self, samples: list[ChunkSample], advantages: list[float], rows: int) -> dict[str, Any]:
        """TRL's batch dict for ``_compute_loss``, padded to ``rows`` rows with loss-free dummy rows."""
        device = self.accelerator.device
        pad_id = self._tokenizer.pad_token_id
        truncated_masked = self.args.mask_truncated_completions
        prompts, completions, masks, sampled = [], [], [], []
        for sample in samples:
            prompts.append(torch.tensor(sample.prompt_ids, dtype=torch.long))
            completion = sample.completion_ids or [pad_id]
            completions.append(torch.tensor(completion, dtype=torch.long))
            keep = sample.completion_ids and not (truncated_masked and sample.finish_reason != "stop")
            masks.append(torch.full((len(completion),), int(bool(keep)), dtype=torch.long))
            logprobs = sample.logprobs if sample.logprobs is not None else [math.nan] * len(completion)
            sampled.append(torch.tensor(logprobs[: len(completion)] or [math.nan], dtype=torch.float32))
        dummies = rows - len(samples)
        for _ in range(dummies):
            prompts.append(torch.tensor([pad_id], dtype=torch.long))
            completions.append(torch.tensor([pad_id], dtype=torch.long))
            masks.append(torch.zeros(1, dtype=torch.long))
            sampled.append(torch.tensor([math.nan]))
        multiple = self.pad_to_multiple_of
        prompt_ids = pad(prompts, padding_value=pad_id, padding_side="left", pad_to_multiple_of=multiple)
        prompt_mask = pad(
            [torch.ones_like(p) for p in prompts], padding_value=0, padding_side="left", pad_to_multiple_of=multiple
        )
        completion_ids = pad(completions, padding_value=pad_id, padding_side="right", pad_to_multiple_of=multiple)
        completion_mask = pad(masks, padding_value=0, padding_side="right", pad_to_multiple_of=multiple)
        prompt_ids, prompt_mask = prompt_ids.to(device), prompt_mask.to(device)
        completion_ids, completion_mask = completion_ids.to(device), completion_mask.to(device)
        batch: dict[str, Any] = {
            "prompt_ids": prompt_ids,
            "prompt_mask": prompt_mask,
            "completion_ids": completion_ids,
            "completion_mask": completion_mask,
            "advantages": torch.tensor([*advantages, *[0.0] * dummies], dtype=torch.float32, device=device),
            "num_items_in_batch": self.accelerator.gather(completion_mask.sum()).sum(),
        }
        self._add_logps(batch, pad(sampled, padding_value=math.nan, padding_side="right").to(device))
        return batch

    def _add_logps(self, batch: dict[str, Any], sampling_logps: torch.Tensor) -> None:
        """Old-policy, reference and importance-sampling log-probabilities, where TRL's loss reads them."""
        input_ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
        attention = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
        keep = batch["completion_ids"].size(1)
        chunk = self.args.per_device_train_batch_size
        importance = self.use_vllm and self.vllm_importance_sampling_correction
        generate_every = self.args.steps_per_generation * self.num_iterations
        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            if self.args.gradient_accumulation_steps % generate_every != 0 or importance:
                old, _, _ = self._get_per_token_logps_and_entropies(self.model, input_ids, attention, keep, chunk)
                batch["old_per_token_logps"] = old
                if importance:
                    batch["importance_sampling_ratio"] = self._importance_ratio(
                        old, sampling_logps[:, :keep], batch["completion_mask"]
                    )
            if self.beta != 0.0:
                if self.ref_model is not None:
                    ref, _, _ = self._get_per_token_logps_and_entropies(
                        self.ref_model, input_ids, attention, keep, chunk
                    )
                else:  # PEFT: the base model (adapter disabled) or a frozen copy of the adapter named "ref"
                    unwrapped = self.accelerator.unwrap_model(self.model)
                    with use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None):
                        ref, _, _ = self._get_per_token_logps_and_entropies(
                            self.model, input_ids, attention, keep, chunk
                        )
                batch["ref_per_token_logps"] = ref

    def _get_per_token_logps_and_entropies(
        self,
        model: Any,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **extra: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """TRL's per-token log-probabilities, with each chunk's shared prompt prefix computed once where it applies."""
        plain = super()._get_per_token_logps_and_entropies
        checkpointing = torch.is_grad_enabled() and getattr(
            self.accelerator.unwrap_model(model), "is_activation_checkpointing", False
        )
        multimodal = any(value is not None for value in extra.values())
        if not self.share_prompt_prefix or compute_aux_loss or checkpointing or multimodal:
            result: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None] = plain(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **extra,
            )
            return result
        size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), size):
            ids, mask = input_ids[start : start + size], attention_mask[start : start + size]
            part = shared_prefix_logps(
                model, ids, mask, logits_to_keep, compute_entropy=compute_entropy, autocast=self.accelerator.autocast
            )
            if part is None:
                part = plain(model, ids, mask, logits_to_keep, compute_entropy=compute_entropy)[:2]
            logps.append(part[0])
            entropies.append(part[1])
        entropy = torch.cat([e for e in entropies if e is not None]) if compute_entropy else None
        return torch.cat(logps), entropy, None

    def _importance_ratio(self, old: torch.Tensor, sampling: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """TRL's vLLM importance-sampling correction: ``exp(old - sampling)`` per token or sequence, clipped/masked."""
        if sampling.size(1) < old.size(1):
            sampling = torch.nn.functional.pad(sampling, (0, old.size(1) - sampling.size(1)), value=math.nan)
        diff = torch.nan_to_num((old - sampling) * mask, nan=0.0)
        mode = self.vllm_importance_sampling_mode
        ratio = torch.exp(diff.sum(dim=-1, keepdim=True) if mode.startswith("sequence") else diff)
        low = self.vllm_importance_sampling_clip_min
        high = self.vllm_importance_sampling_clip_max
        if mode.endswith("truncate"):
            return torch.clamp(ratio, min=low, max=high)
        low = -math.inf if low is None else low
        high = math.inf if high is None else high
        return ratio.masked_fill((ratio < low) | (ratio > high), 0.0)

    def _log_episode_metrics(
        self, rows: list[tuple[Any, ...]], advantages: list[float], episodes: list[Episode]
    ) -> None:
        """Reward, its components and episode statistics (over every process) for TRL's logger."""
        metrics = self._metrics["train"]
        rewards = [r[1] for r in rows]
        for index, name in enumerate(("reward", "r1_qa", "r2_tool_success", "r3_compression", "r4_content"), 1):
            metrics[name if name == "reward" else f"rewards/{name}"].append(fmean(r[index] for r in rows))
        metrics["reward_std"].append(float(torch.tensor(rewards).std()) if len(rewards) > 1 else 0.0)
        metrics["chunk_samples"].append(float(len(rows)))
        metrics["advantage_abs_mean"].append(fmean(abs(a) for a in advantages))
        metrics["completions/mean_length"].append(fmean(r[6] for r in rows))
        calls = [float(e.num_calls) for e in episodes]
        memory = [float(e.memory_tokens) for e in episodes]
        calls_all: list[float] = gather_object(calls)
        memory_all: list[float] = gather_object(memory)
        metrics["episode/tool_calls"].append(fmean(calls_all))
        metrics["episode/memory_tokens"].append(fmean(memory_all))

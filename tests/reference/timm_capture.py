"""A timm ViT-style model's forward as PatchLens' `forward` names it, captured with hooks:
patch_embedding [N, D], tokens_0 (block 1's input), tokens_L (block L's output), final
(forward_features), attention_L (the softmax at attn.attn_drop's input: TIMM_FUSED_ATTN=0).
Shared by dinov3_timm_fixtures.py, beit_fixtures.py and naflex_fixtures.py."""
import torch


def capture(model, image, patch_module=None, patch_output=None):
    """patch_module / patch_output: where the patch embedding is read and how its output becomes
    [1, N, D] (default: model.patch_embed, flattened)."""
    got, attns = {}, []
    module = model.patch_embed if patch_module is None else patch_module
    take = patch_output or (lambda o: o.reshape(-1, o.shape[-1])[None])
    hooks = [module.register_forward_hook(
        lambda m, i, o: got.__setitem__("patch_embedding", take(o)))]
    hooks.append(model.blocks[0].register_forward_pre_hook(lambda m, i: got.__setitem__("tokens_0", i[0])))
    for idx, blk in enumerate(model.blocks):
        hooks.append(blk.register_forward_hook(
            lambda m, i, o, idx=idx: got.__setitem__(f"tokens_{idx + 1}", o)))
        hooks.append(blk.attn.attn_drop.register_forward_hook(lambda m, i, o: attns.append(i[0])))
    with torch.no_grad():
        got["final"] = model.forward_features(torch.from_numpy(image)[None])
    for h in hooks:
        h.remove()
    assert len(attns) == len(model.blocks)
    for idx, a in enumerate(attns):
        got[f"attention_{idx + 1}"] = a
    return {k: v[0].detach().numpy().astype("<f4") for k, v in got.items()}

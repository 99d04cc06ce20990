package model

import "bytes"

// DropTiedHeadCopy removes lm_head.weight from a model whose config ties the
// head to the embedding when the checkpoint holds an identical copy of the
// embedding under that name (torch.save of a state dict, some converters); a
// head that differs is kept, for Validate to report. Loaders call it.
func DropTiedHeadCopy(m *Model) error {
	head, embed := m.Tensor(HeadName), m.Tensor(EmbedName)
	if !m.Config.TiedEmbeddings || head == nil || embed == nil || head.DType != embed.DType || head.Size() != embed.Size() {
		return nil
	}
	a, err := head.Bytes()
	if err != nil {
		return err
	}
	b, err := embed.Bytes()
	if err != nil {
		return err
	}
	if bytes.Equal(a, b) {
		m.RemoveTensor(HeadName)
	}
	return nil
}

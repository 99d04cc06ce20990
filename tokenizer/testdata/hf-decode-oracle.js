// decode vectors: random id sequences (lone bytes, added tokens, any ids)
const {Tokenizer}=require('tokenizers');const fs=require('fs');
const q=Tokenizer.fromFile('/tmp/hftok/qwen3.json');const m=Tokenizer.fromFile('/work/main/testdata/qwen3-micro/tokenizer.json');
let seed=5;const rnd=n=>{seed=(seed*1103515245+12345)%2147483648;return seed%n;};
(async()=>{const out=[];
for(const [name,t,n] of [['qwen3',q,151669],['micro',m,8192]]){
  const bytes=[];for(let b=0x80;b<0x100;b++){/* single byte tokens */}
  const v=t.getVocab(true);const byteIds=[];for(const [k,id] of Object.entries(v)){if([...k].length==1&&k.codePointAt(0)<324&&k.codePointAt(0)>=0xA1)byteIds.push(id);}
  for(let i=0;i<60;i++){const ids=[];const L=1+rnd(8);for(let j=0;j<L;j++){const r=rnd(5);ids.push(r<=2?byteIds[rnd(byteIds.length)]:r==3?rnd(n):n-1-rnd(5));}
    out.push({tokenizer:name,ids,decoded:await t.decode(ids,false)});}
}
fs.writeFileSync(process.argv[2],JSON.stringify(out));})();
